"""``Supervisor``: starts the stack in dependency order, watches it, restarts crashes, stops it.

It owns every process of the workspace through a ``StackBackend`` and reports everything it
does as events on its ``EventBus``. Start-up is all or nothing: if a component cannot start or
never becomes ready, everything already started is stopped again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from lcdev.backends.base import BackendError, ComponentHandle, ResolvedComponent, StackBackend
from lcdev.backends.probes import ComponentExited, ReadinessTimeout, wait_until_ready
from lcdev.core.backoff import RestartPolicy
from lcdev.core.events import (
    ComponentCrashed,
    ComponentFailed,
    ComponentReady,
    ComponentRestarting,
    ComponentStarting,
    ComponentStopped,
    Event,
    LogLineEmitted,
    StackFailed,
    StackReady,
    StackStopped,
    StackStopping,
)
from lcdev.core.layout import WorkspaceLayout
from lcdev.core.plan import start_waves
from lcdev.core.states import ComponentState
from lcdev.supervisor.bus import EventBus
from lcdev.supervisor.records import write_children
from lcdev.supervisor.resolve import StackPlan

__all__ = ["ComponentRuntime", "Supervisor"]

TAIL_LINES = 30


class Observer(Protocol):
    """Who else hears every line and event (the telemetry store)."""

    def line(self, source: str, stream: str, text: str) -> None: ...

    def event(self, event: Event) -> None: ...


class StartFailed(Exception):
    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


@dataclass
class ComponentRuntime:
    """What the supervisor knows about one component right now."""

    component: ResolvedComponent
    url: str
    state: ComponentState = ComponentState.PENDING
    handle: ComponentHandle | None = None
    restarts: int = 0
    since: float = field(default_factory=time.time)
    last_error: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    watcher: asyncio.Task[None] | None = None
    crash_streak: int = 0
    up_since: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.component.name,
            "kind": self.component.kind,
            "state": str(self.state),
            "ident": self.handle.ident if self.handle and not self.handle.exited() else None,
            "pid": self.handle.pid if self.handle and not self.handle.exited() else None,
            "port": self.component.port,
            "url": self.url,
            "restarts": self.restarts,
            "since": self.since,
            "last_error": self.last_error,
        }


class Supervisor:
    """Runs one workspace's stack on one backend."""

    def __init__(
        self,
        layout: WorkspaceLayout,
        backend: StackBackend,
        plan: StackPlan,
        policy: RestartPolicy | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.layout = layout
        self.backend = backend
        self.plan = plan
        self.policy = policy or RestartPolicy()
        self.observer = observer
        self.bus = EventBus()
        self.started_at = time.time()
        self.phase = "starting"
        self._stopping = False
        self.runtimes = {
            c.name: ComponentRuntime(component=c, url=backend.connection_url(c))
            for c in plan.components
        }

    # -- events and logs ------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.bus.publish(event)
        if self.observer is not None:
            self.observer.event(event)

    def _sink(self, runtime: ComponentRuntime) -> Any:
        name = runtime.component.name
        observer = self.observer

        def sink(stream: str, text: str) -> None:
            runtime.tail.append(text)
            if observer is not None:
                observer.line(name, stream, text)
            self.bus.publish(LogLineEmitted(source=name, stream=stream, text=text))

        return sink

    def _set(self, runtime: ComponentRuntime, state: ComponentState) -> None:
        runtime.state = state
        runtime.since = time.time()

    # -- start ----------------------------------------------------------------------------

    async def start_all(self) -> bool:
        """Start every component; on any failure stop what started and return False."""
        warm_up = asyncio.create_task(self.backend.warm_up(self.plan.components))
        for wave in start_waves(self.plan.depends_on):
            results = await asyncio.gather(
                *(self._start(self.runtimes[name], attempt=1) for name in wave),
                return_exceptions=True,
            )
            failures = [(n, r) for n, r in zip(wave, results, strict=True) if r is not None]
            if failures:
                for name, error in failures:
                    runtime = self.runtimes[name]
                    self._set(runtime, ComponentState.FAILED)
                    runtime.last_error = str(error)
                    self.emit(
                        ComponentFailed(
                            name=name,
                            reason=str(error),
                            hint=getattr(error, "hint", ""),
                            last_lines=list(runtime.tail),
                        )
                    )
                names = ", ".join(name for name, _ in failures)
                self.phase = "failed"
                self.emit(StackFailed(reason=f"could not start {names}"))
                await self.stop_all(remove_data=False, announce=False)
                warm_up.cancel()
                return False
        await warm_up
        self.phase = "ready"
        self.emit(
            StackReady(seconds=time.time() - self.started_at, gateway_url=self.gateway_url())
        )
        return True

    async def _start(self, runtime: ComponentRuntime, attempt: int) -> None:
        component = runtime.component
        self._set(runtime, ComponentState.STARTING)
        self.emit(ComponentStarting(name=component.name, port=component.port, attempt=attempt))
        try:
            await self.backend.prepare(component)
            runtime.handle = await self.backend.launch(component, self._sink(runtime))
            self._record_children()
            seconds = await wait_until_ready(component, runtime.handle)
            await self.backend.after_ready(component)
        except (BackendError, ReadinessTimeout, ComponentExited) as exc:
            if runtime.handle is not None:
                await self.backend.stop(component, runtime.handle, timeout=5)
            raise StartFailed(f"{component.name}: {exc}", getattr(exc, "hint", "")) from exc
        self._set(runtime, ComponentState.HEALTHY)
        runtime.up_since = time.monotonic()
        runtime.last_error = ""
        self.emit(ComponentReady(name=component.name, seconds=seconds, url=runtime.url))
        runtime.watcher = asyncio.create_task(self._watch(runtime, runtime.handle))

    def _record_children(self) -> None:
        pids = [r.handle.pid for r in self.runtimes.values() if r.handle and r.handle.pid]
        write_children(self.layout, [pid for pid in pids if pid is not None])

    # -- crashes --------------------------------------------------------------------------

    async def _watch(self, runtime: ComponentRuntime, handle: ComponentHandle) -> None:
        """Wait for an unexpected exit, then restart with backoff until it starts again.

        The crash streak lives on the runtime, so a component that crashes right after each
        restart backs off further each time; it resets once the component stayed up for
        ``stable_after`` seconds."""
        name = runtime.component.name
        code = await handle.wait()
        if self._stopping or runtime.handle is not handle:
            return
        if time.monotonic() - runtime.up_since >= self.policy.stable_after:
            runtime.crash_streak = 0
        runtime.crash_streak += 1
        delay = self.policy.delay(runtime.crash_streak)
        self._set(runtime, ComponentState.CRASHED)
        runtime.last_error = f"exited with code {code}"
        self.emit(
            ComponentCrashed(
                name=name, exit_code=code, restart_in=delay, last_lines=list(runtime.tail)
            )
        )
        while True:
            await asyncio.sleep(delay)
            if self._stopping:
                return
            runtime.restarts += 1
            self._set(runtime, ComponentState.RESTARTING)
            self.emit(ComponentRestarting(name=name, attempt=runtime.crash_streak))
            try:
                await self._start(runtime, attempt=runtime.crash_streak + 1)
                return  # _start began a fresh watcher for the new instance
            except StartFailed as exc:  # keep the real reason, back off further, try again
                runtime.crash_streak += 1
                delay = self.policy.delay(runtime.crash_streak)
                self._set(runtime, ComponentState.CRASHED)
                runtime.last_error = str(exc)
                self.emit(ComponentFailed(name=name, reason=str(exc), hint=exc.hint,
                                          last_lines=list(runtime.tail)))

    async def restart(self, name: str) -> None:
        """Stop and start one component on request (dashboard, API)."""
        runtime = self.runtimes[name]
        handle = runtime.handle
        runtime.handle = None
        if handle is not None:
            await self.backend.stop(runtime.component, handle)
        runtime.restarts += 1
        await self._start(runtime, attempt=1)

    # -- stop -----------------------------------------------------------------------------

    async def stop_all(self, remove_data: bool, announce: bool = True) -> None:
        """Stop every component in reverse dependency order; optionally wipe their data."""
        self._stopping = True
        if announce:
            self.phase = "stopping"
            self.emit(StackStopping(remove_data=remove_data))
        for wave in reversed(start_waves(self.plan.depends_on)):
            await asyncio.gather(*(self._stop_one(self.runtimes[name]) for name in wave))
        if remove_data:
            for runtime in self.runtimes.values():
                await self.backend.remove_data(runtime.component)
            with contextlib.suppress(OSError):
                self.layout.data_dir.rmdir()  # gone entirely unless something else lives there
        self.layout.children_file.unlink(missing_ok=True)
        if announce:
            self.phase = "stopped"
            self.emit(StackStopped(removed_data=remove_data))

    async def _stop_one(self, runtime: ComponentRuntime) -> None:
        if runtime.watcher is not None:
            runtime.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runtime.watcher
        if runtime.handle is not None and not runtime.handle.exited():
            self._set(runtime, ComponentState.STOPPING)
            await self.backend.stop(runtime.component, runtime.handle)
            self.emit(ComponentStopped(name=runtime.component.name))
        self._set(runtime, ComponentState.STOPPED)

    # -- views ----------------------------------------------------------------------------

    def gateway_url(self) -> str:
        for runtime in self.runtimes.values():
            if runtime.component.definition.readiness.probe == "http":
                return runtime.url
        return ""
