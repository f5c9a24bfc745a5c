"""The supervisor's event stream: past-tense dataclasses, one stream for every front end.

The supervisor emits these; the CLI's progress and log output, the TUI and reports consume them.
Every event serialises to a flat JSON object with a ``type`` field and back, so the stream can
cross the control API unchanged.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ComponentCrashed",
    "ComponentFailed",
    "ComponentReady",
    "ComponentRestarting",
    "ComponentStarting",
    "ComponentStopped",
    "Event",
    "LogLineEmitted",
    "ReloadFailed",
    "ReloadStarted",
    "ServiceReloaded",
    "StackFailed",
    "StackReady",
    "StackStopped",
    "StackStopping",
    "WorkspaceReloaded",
    "event_from_dict",
]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event; ``at`` is a UNIX timestamp."""

    at: float = field(default_factory=time.time)
    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Event.registry[cls.__name__] = cls

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, **dataclasses.asdict(self)}


@dataclass(frozen=True, kw_only=True)
class ComponentStarting(Event):
    """A component's process or container is being launched."""

    name: str
    port: int
    attempt: int = 1


@dataclass(frozen=True, kw_only=True)
class ComponentReady(Event):
    """A component answered its readiness probe."""

    name: str
    seconds: float
    url: str


@dataclass(frozen=True, kw_only=True)
class ComponentFailed(Event):
    """A component could not be started or never became ready; ``last_lines`` is its output."""

    name: str
    reason: str
    hint: str = ""
    last_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ComponentCrashed(Event):
    """A running component exited on its own."""

    name: str
    exit_code: int | None
    restart_in: float
    last_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ComponentRestarting(Event):
    """A crashed component is being started again after its backoff."""

    name: str
    attempt: int


@dataclass(frozen=True, kw_only=True)
class ComponentStopped(Event):
    """A component was stopped on purpose."""

    name: str


@dataclass(frozen=True, kw_only=True)
class LogLineEmitted(Event):
    """One line a process wrote, with its source and stream."""

    source: str
    stream: str
    text: str


@dataclass(frozen=True, kw_only=True)
class StackReady(Event):
    """Every component is ready; ``seconds`` counts from the supervisor's start."""

    seconds: float
    gateway_url: str


@dataclass(frozen=True, kw_only=True)
class StackFailed(Event):
    """Start-up was abandoned; everything already started has been stopped."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class StackStopping(Event):
    """The supervisor is stopping everything (``down``, Ctrl-C or a failed start)."""

    remove_data: bool = False


@dataclass(frozen=True, kw_only=True)
class StackStopped(Event):
    """Everything is stopped and every port is free; the supervisor exits next."""

    removed_data: bool = False


@dataclass(frozen=True, kw_only=True)
class ReloadStarted(Event):
    """Saved files were noticed; ``services`` are about to be reloaded (may be empty while the
    definitions are still being read). ``paths`` are relative to the workspace root."""

    services: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ServiceReloaded(Event):
    """A new version of a service is serving.

    ``how``: ``swapped`` (routes and handlers replaced in the running process), ``restarted``
    (a code service's process replaced), ``started`` (a new service folder), ``stopped`` (a
    removed one). ``seconds`` counts from the save (the newest changed file's mtime) to the new
    version answering; ``timings_ms`` breaks it down (detect, validate, migrate, build, gateway,
    total). ``changes`` says what changed in plain words ("+ field Order.note")."""

    name: str
    how: str = "swapped"
    version_before: str = ""
    version_after: str = ""
    changes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ReloadFailed(Event):
    """A reload did not happen; the running version keeps serving untouched.

    ``reason``: ``invalid`` (the definitions have errors: ``problems`` lists each at
    file:line:column, relative to the root), ``destructive`` (the schema change would lose
    data: ``problems`` lists the changes, ``hint`` says how to allow them) or ``failed``
    (anything else, e.g. an escape-hatch module that does not import). ``name`` is the service,
    or ``workspace`` for lcdev.yaml and problems not tied to one service."""

    name: str
    reason: str
    message: str
    problems: list[str] = field(default_factory=list)
    hint: str = ""
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class WorkspaceReloaded(Event):
    """lcdev.yaml changed: ``applied`` lists what took effect live, ``needs_up`` what only a
    new ``lcdev up`` applies (each a plain sentence naming the setting)."""

    applied: list[str] = field(default_factory=list)
    needs_up: list[str] = field(default_factory=list)
    seconds: float = 0.0


def event_from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_dict`` output; unknown fields are ignored."""
    kind = Event.registry.get(str(data.get("type")))
    if kind is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = {f.name for f in dataclasses.fields(kind)}
    return kind(**{k: v for k, v in data.items() if k in names})
