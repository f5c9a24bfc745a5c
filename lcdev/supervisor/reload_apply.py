"""Carrying out one service's part of a reload: swap, restart, start or stop.

Each action returns an ``Outcome`` (what happened, when the new version served, what failed)
and keeps ``AppliedDefinitions`` — the supervisor's view of what runs — current with what was
applied only: a refused or failed change leaves the service's old definition in the view, so
the next edit is compared with what really runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lcdev.backends.base import BackendError, ResolvedComponent
from lcdev.core.changes import ServiceChanges
from lcdev.core.events import ReloadFailed
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, ServiceDefinition, WorkspaceDefinition
from lcdev.supervisor.gateway_sync import GatewaySync
from lcdev.supervisor.resolve import plan_service, with_route
from lcdev.supervisor.service_reload import ReloadAnswer, ServiceReloadClient
from lcdev.supervisor.supervisor import StartFailed, Supervisor

__all__ = ["AppliedDefinitions", "Outcome", "ServiceActions"]


class AppliedDefinitions:
    """The definitions that run now: what ``lcdev status`` shows and what the next change is
    compared with."""

    def __init__(self, loaded: LoadedWorkspace) -> None:
        assert loaded.workspace is not None
        self.root = loaded.root
        self.workspace: WorkspaceDefinition = loaded.workspace
        self.services: dict[str, ServiceDefinition] = dict(loaded.services)
        self.service_dirs = dict(loaded.service_dirs)

    def loaded(self) -> LoadedWorkspace:
        """A ``LoadedWorkspace`` of the view (what planning and the gateway builder take)."""
        return LoadedWorkspace(self.root, self.workspace, dict(self.services), [],
                               dict(self.service_dirs))

    def adopt(self, name: str, new: LoadedWorkspace) -> None:
        """``name`` runs its definition from ``new`` now."""
        self.services[name] = new.services[name]
        self.service_dirs[name] = new.service_dirs[name]

    def drop(self, name: str) -> None:
        self.services.pop(name, None)
        self.service_dirs.pop(name, None)

    def apply_workspace(self, new: WorkspaceDefinition) -> None:
        """Take what of ``lcdev.yaml`` applies live (the services globs and secrets); the rest
        keeps its running value, so it is reported as needing ``lcdev up`` until then."""
        self.workspace = self.workspace.model_copy(
            update={"services": new.services, "secrets": new.secrets,
                    "description": new.description})


@dataclass
class Outcome:
    """One service's result. ``serving_at`` is the wall-clock time the new version answered;
    ``gateway``: the change also needs the gateway's configuration, so it serves only once
    the gateway does."""

    name: str
    how: str
    failure: ReloadFailed | None = None
    serving_at: float = 0.0
    version_before: str = ""
    version_after: str = ""
    changes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    gateway: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None


EnvFor = Callable[[ResolvedComponent], dict[str, str]]
"""The environment a component started at run time gets (telemetry, the control token)."""


class ServiceActions:
    """The four things a reload does to a service, on one supervisor."""

    def __init__(self, supervisor: Supervisor, view: AppliedDefinitions, gateway: GatewaySync,
                 client: ServiceReloadClient, env_for: EnvFor) -> None:
        self.supervisor = supervisor
        self.view = view
        self.gateway = gateway
        self.client = client
        self.env_for = env_for
        self.layout = WorkspaceLayout(view.root)

    # -- swap -----------------------------------------------------------------------------

    async def swap(self, name: str, new: LoadedWorkspace, changes: ServiceChanges, *,
                   force: bool, allow_destructive: bool) -> Outcome:
        """Ask the low-code service to replace its app in place."""
        runtime = self.supervisor.runtimes.get(name)
        if runtime is None or runtime.handle is None or runtime.handle.exited():
            state = runtime.state if runtime else "not running"
            return self._failed(name, "failed", f"{name} is {state}; the change applies when"
                                f" it starts again")
        answer = await self.client.reload(name, runtime.url, allow_destructive=allow_destructive,
                                          force=force)
        if answer.outcome in ("reloaded", "unchanged"):
            return self._swapped(name, new, changes, answer)
        if answer.outcome == "refused":
            return self._failed(
                name, "destructive",
                answer.message or f"{name}: the change would lose data; the running version"
                                  " keeps serving",
                answer.destructive or answer.problems,
                hint=f"lcdev apply --allow-destructive {name}")
        reason = "invalid" if answer.outcome == "invalid" else "failed"
        message = answer.message or f"{name} could not reload; the running version keeps serving"
        return self._failed(name, reason, message, answer.problems)

    def _swapped(self, name: str, new: LoadedWorkspace, changes: ServiceChanges,
                 answer: ReloadAnswer) -> Outcome:
        old = self.view.services[name]
        self.view.adopt(name, new)
        if new.services[name].route != old.route:
            runtime = self.supervisor.runtimes[name]
            self.supervisor.update(with_route(runtime.component, new.services[name]))
        timings = {k: v for k, v in answer.timings_ms.items() if k != "total"}
        return Outcome(
            name, "swapped", serving_at=answer.swapped_at or time.time(),
            version_before=answer.version_before or changes.version_before,
            version_after=answer.version_after or changes.version_after,
            changes=changes.summary or answer.changes, timings_ms=timings,
            gateway=changes.gateway_affected,
        )

    # -- restart (code services, or a changed kind) ---------------------------------------

    async def restart(self, name: str, new: LoadedWorkspace, changes: ServiceChanges) -> Outcome:
        """A new process for the service: the new one first where lcdev picks its port."""
        started = time.monotonic()
        definition = new.services[name]
        try:
            component = self._plan(definition, new)
        except BackendError as exc:
            return self._failed(name, "failed", str(exc), hint=exc.hint)
        switched: list[tuple[float, float, float]] = []  # ready, routed (monotonic), wall

        async def switch() -> None:  # the new instance is ready: route to it
            ready = time.monotonic()
            self.view.adopt(name, new)
            await self.gateway.publish(self.view.loaded())
            switched.append((ready, time.monotonic(), time.time()))

        try:
            await self.supervisor.replace(component, switch)
        except StartFailed as exc:
            return self._failed(name, "failed", str(exc), hint=exc.hint)
        ready, routed, serving = switched[0]
        timings = {"start": (ready - started) * 1000, "gateway": (routed - ready) * 1000}
        return Outcome(name, "restarted", serving_at=serving,
                       version_before=changes.version_before,
                       version_after=changes.version_after,
                       changes=changes.summary, timings_ms=timings)

    # -- start and stop -------------------------------------------------------------------

    async def start(self, name: str, new: LoadedWorkspace, changes: ServiceChanges) -> Outcome:
        """Start a service that was not running; the gateway learns its route afterwards."""
        started = time.monotonic()
        try:
            component = self._plan(new.services[name], new)
            await self.supervisor.add(component, component.definition.depends_on)
        except (BackendError, StartFailed) as exc:
            return self._failed(name, "failed", str(exc), hint=getattr(exc, "hint", ""))
        self.view.adopt(name, new)
        return Outcome(name, "started", serving_at=time.time(),
                       version_after=changes.version_after, changes=changes.summary,
                       timings_ms={"start": (time.monotonic() - started) * 1000}, gateway=True)

    async def stop(self, name: str, changes: ServiceChanges) -> Outcome:
        """Stop a removed service (call after the gateway stopped routing to it)."""
        started = time.monotonic()
        await self.supervisor.remove(name)
        return Outcome(name, "stopped", serving_at=time.time(),
                       version_before=changes.version_before, changes=changes.summary,
                       timings_ms={"stop": (time.monotonic() - started) * 1000})

    # -- helpers --------------------------------------------------------------------------

    def _plan(self, definition: ServiceDefinition, new: LoadedWorkspace) -> ResolvedComponent:
        component = plan_service(definition, new, self.layout, self.supervisor.plan)
        component.env.update(self.env_for(component))
        return component

    def _failed(self, name: str, reason: str, message: str, problems: list[str] | None = None,
                hint: str = "") -> Outcome:
        failure = ReloadFailed(name=name, reason=reason, message=message,
                               problems=list(problems or []), hint=hint)
        return Outcome(name, "failed", failure=failure)
