"""``Supervisor``: starts the stack in dependency order, watches it, restarts crashes, stops it.

It owns every process of the workspace through a ``StackBackend`` and reports everything it
does as events on its ``EventBus``. Start-up is all or nothing: if a component cannot start or
never becomes ready, everything already started is stopped again. While the stack runs, hot
reload adds components (a new service folder), removes them, and replaces one with a new
instance (a code service whose source changed), the new one first where the port allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

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
from lcdev.supervisor.component_runtime import (
    SUPERVISOR_SOURCE,
    ComponentRuntime,
    Observer,
    StartFailed,
)
from lcdev.supervisor.records import write_children
from lcdev.supervisor.resolve import StackPlan

__all__ = ["ComponentRuntime", "Observer", "StartFailed", "Supervisor"]


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

    def say(self, text: str, stream: str = "stderr") -> None:
        """A line of the supervisor's own (a warning worth seeing in ``lcdev logs``)."""
        if self.observer is not None:
            self.observer.line(SUPERVISOR_SOURCE, stream, text)
        self.bus.publish(LogLineEmitted(source=SUPERVISOR_SOURCE, stream=stream, text=text))

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
        handle, seconds = await self._launch_ready(runtime, component, adopt=True)
        self._became_healthy(runtime, handle, seconds)

    async def _launch_ready(
        self, runtime: ComponentRuntime, component: ResolvedComponent, adopt: bool
    ) -> tuple[ComponentHandle, float]:
        """Launch an instance of ``component`` and wait until it is ready; on failure it is
        stopped again and ``StartFailed`` raised. ``adopt``: the instance is the runtime's
        from launch on (so ``stop_all`` stops it even while it starts); otherwise (a second
        instance, blue/green) it is stopped here if the wait is cancelled."""
        handle: ComponentHandle | None = None
        try:
            await self.backend.prepare(component)
            handle = await self.backend.launch(component, self._sink(runtime))
            if adopt:
                runtime.handle = handle
            self._record_children(handle)
            seconds = await wait_until_ready(component, handle)
            await self.backend.after_ready(component)
        except (BackendError, ReadinessTimeout, ComponentExited) as exc:
            if handle is not None:
                await self.backend.stop(component, handle, timeout=5)
                self._record_children()
            raise StartFailed(f"{component.name}: {exc}", getattr(exc, "hint", "")) from exc
        except asyncio.CancelledError:
            if handle is not None and not adopt:
                await self.backend.stop(component, handle, timeout=5)
            raise
        return handle, seconds

    def _became_healthy(
        self, runtime: ComponentRuntime, handle: ComponentHandle, seconds: float
    ) -> None:
        self._set(runtime, ComponentState.HEALTHY)
        runtime.up_since = time.monotonic()
        runtime.last_error = ""
        self.emit(ComponentReady(name=runtime.component.name, seconds=seconds, url=runtime.url))
        runtime.watcher = asyncio.create_task(self._watch(runtime, handle))

    def _record_children(self, extra: ComponentHandle | None = None) -> None:
        """Write every child's pid (``extra``: an instance not yet in a runtime, the new
        instance of a blue/green replacement), so a successor can clean up after a crash."""
        handles = [r.handle for r in self.runtimes.values() if r.handle is not None]
        if extra is not None:
            handles.append(extra)
        pids = [h.pid for h in handles if h.pid is not None and not h.exited()]
        write_children(self.layout, pids)

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

    # -- changes while running (hot reload) ------------------------------------------------

    async def add(self, component: ResolvedComponent, depends_on: Sequence[str]) -> None:
        """Start a component the stack did not have (a new service folder). On ``StartFailed``
        it is forgotten again, so a later attempt starts from scratch."""
        name = component.name
        runtime = ComponentRuntime(component=component, url=self.backend.connection_url(component))
        self.runtimes[name] = runtime
        self.plan.components.append(component)
        self.plan.depends_on[name] = list(depends_on)
        try:
            await self._start(runtime, attempt=1)
        except StartFailed:
            self._forget(name)
            raise

    async def remove(self, name: str) -> None:
        """Stop a component for good (its service folder was removed)."""
        runtime = self.runtimes.get(name)
        if runtime is None:
            return
        await self._stop_one(runtime)
        self._forget(name)
        self._record_children()

    def _forget(self, name: str) -> None:
        self.runtimes.pop(name, None)
        self.plan.depends_on.pop(name, None)
        self.plan.components[:] = [c for c in self.plan.components if c.name != name]

    def update(self, component: ResolvedComponent) -> None:
        """Record a new description of a running component (same process and port: a swapped
        low-code service whose route moved), used by the next crash restart."""
        runtime = self.runtimes[component.name]
        runtime.component = component
        self._replace_in_plan(component)

    def _replace_in_plan(self, component: ResolvedComponent) -> None:
        self.plan.components[:] = [
            component if c.name == component.name else c for c in self.plan.components
        ]

    async def replace(
        self,
        component: ResolvedComponent,
        switch: Callable[[], Awaitable[None]],
        drain_s: float = 0.25,
    ) -> None:
        """Run ``component`` instead of the running instance of the same name.

        On a new port (blue/green) the new instance starts first; once it is ready it becomes
        current, ``switch`` moves the traffic (the gateway's route), and after ``drain_s`` for
        requests in flight the old instance stops. If the new one fails, the old one keeps
        running untouched and ``StartFailed`` is raised. On the same port the old instance
        stops first; if the new one then fails, the component is left failed."""
        runtime = self.runtimes[component.name]
        old_component, old_handle, old_watcher = runtime.component, runtime.handle, runtime.watcher
        if component.port == old_component.port or old_handle is None or old_handle.exited():
            await self._stop_then_start(runtime, component)
            await switch()
            return
        self.emit(ComponentStarting(name=component.name, port=component.port, attempt=1))
        handle, seconds = await self._launch_ready(runtime, component, adopt=False)
        runtime.component, runtime.handle = component, handle
        runtime.url = self.backend.connection_url(component)
        self._replace_in_plan(component)
        if old_watcher is not None:
            old_watcher.cancel()
        runtime.restarts += 1
        self._became_healthy(runtime, handle, seconds)
        await switch()
        await asyncio.sleep(drain_s)
        await self.backend.stop(old_component, old_handle)
        self._record_children()

    async def _stop_then_start(self, runtime: ComponentRuntime, component: ResolvedComponent
                               ) -> None:
        if runtime.watcher is not None:
            runtime.watcher.cancel()
        handle, runtime.handle = runtime.handle, None
        if handle is not None and not handle.exited():
            self._set(runtime, ComponentState.STOPPING)
            await self.backend.stop(runtime.component, handle)
        runtime.component = component
        runtime.url = self.backend.connection_url(component)
        self._replace_in_plan(component)
        runtime.restarts += 1
        try:
            await self._start(runtime, attempt=1)
        except StartFailed as exc:
            self._set(runtime, ComponentState.FAILED)
            runtime.last_error = str(exc)
            self.emit(ComponentFailed(name=component.name, reason=str(exc), hint=exc.hint,
                                      last_lines=list(runtime.tail)))
            raise

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
