"""What a breaking change is made of, and who depends on what across the workspace.

``Break`` is the pure result of comparing two versions of a service: what changed, whom it
breaks, how to avoid it, and where it is in ``service.yaml`` (a key path, in the working tree
or, for something removed, in the ref's file). ``Dependents`` answers "whom": the services
consuming an event and the workflows calling an endpoint, taken from both versions of the
workspace so a consumer added or dropped in the same change still counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lcdev.definitions import ServiceDefinition
from lcdev.definitions.workflows import split_call

__all__ = ["Break", "Dependents", "Loc", "listed"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Break:
    """One breaking change of a service.

    ``subject`` names it stably (``- field Order.reason``, ``~ event OrderPlaced topic``);
    ``loc`` is the key path in ``service.yaml``, in the ref's file when ``at_ref``."""

    subject: str
    message: str
    hint: str
    loc: Loc
    at_ref: bool = False


@dataclass(frozen=True)
class Dependents:
    """Services consuming each event and workflows calling each endpoint."""

    consumers: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    callers: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, *workspaces: Mapping[str, ServiceDefinition]) -> Dependents:
        """The dependents found in any of ``workspaces`` (service name -> definition)."""
        consumers: dict[tuple[str, str], set[str]] = {}
        callers: dict[tuple[str, str], set[str]] = {}
        for services in workspaces:
            for svc in services.values():
                heard = [(entry.event, entry.from_service) for entry in svc.consumes]
                for workflow in svc.workflows.values():  # triggers and awaits are consumers
                    heard.append((workflow.trigger, None))
                    heard += [(step.await_.event, None) for step in workflow.steps
                              if step.await_ is not None]
                for event, source in heard:
                    publishers = [source] if source else [
                        name for name, other in services.items() if event in other.publishes]
                    for publisher in publishers:
                        consumers.setdefault((publisher, event), set()).add(svc.name)
                for wf_name, workflow in svc.workflows.items():
                    for step in workflow.steps:
                        for target in (step.call, step.compensate):
                            if target:
                                callers.setdefault(split_call(target), set()).add(
                                    f"workflow {wf_name} of {svc.name}")
        return cls(consumers, callers)

    def of_event(self, service: str, event: str) -> str:
        """``consumers of OrderPlaced (inventory, payments)``, or the outside world."""
        names = self.consumers.get((service, event), set())
        if names:
            return f"consumers of {event} ({listed(names)})"
        return f"any consumer of {event} outside the workspace (none inside it)"

    def of_endpoint(self, service: str, endpoint: str) -> str:
        """``workflow checkout of orders`` for each caller, or "" when none."""
        return listed(self.callers.get((service, endpoint), set()))


def listed(names: Iterable[str]) -> str:
    """Sorted, comma-separated."""
    return ", ".join(sorted(names))
