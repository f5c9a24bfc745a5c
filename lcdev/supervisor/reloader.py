"""``Reloader``: turns saved files (and ``lcdev apply``) into reloads of the running stack.

For each batch of saved files it validates the whole workspace (any error: ``ReloadFailed``
and nothing else happens), decides what the change takes (``reload_decide``), carries it out
(``reload_apply``: swaps producers before their consumers, independent services together;
restarts code services the new instance first; starts and stops services), keeps the
gateway's routes current (``gateway_sync``) and reports every outcome as an event — on the
bus, in the merged log and in the history file. One reload runs at a time; batches arriving
meanwhile merge into the next one. Nothing that goes wrong in here stops the supervisor: it
becomes a ``ReloadFailed`` with reason ``failed``. See docs/reload-internals.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from lcdev.core.changes import diff_service
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ReloadStarted,
    ServiceReloaded,
    WorkspaceReloaded,
)
from lcdev.core.reload_order import reload_waves
from lcdev.definitions import SERVICE_FILE, LoadedWorkspace, Problem, load_workspace
from lcdev.supervisor.gateway_sync import GatewaySync, Published
from lcdev.supervisor.reload_apply import AppliedDefinitions, EnvFor, Outcome, ServiceActions
from lcdev.supervisor.reload_decide import (
    ChangedPaths,
    ReloadDecision,
    classify_paths,
    decide,
    relative,
)
from lcdev.supervisor.reload_history import ReloadHistory
from lcdev.supervisor.service_reload import ServiceReloadClient
from lcdev.supervisor.supervisor import Supervisor

__all__ = ["Batch", "Reloader", "invalid_events"]

logger = logging.getLogger(__name__)


class Batch(Protocol):
    """Saved files (``lcdev.supervisor.watch.ChangeBatch``): absolute paths, the time of the
    save and the time it was noticed (UNIX timestamps)."""

    @property
    def paths(self) -> frozenset[Path]: ...

    @property
    def saved_at(self) -> float: ...

    @property
    def detected_at(self) -> float: ...


@dataclass(frozen=True)
class _Trigger:
    """What one reload is for: saved files, or ``lcdev apply`` (``services``: the names it
    gave, empty for "whatever needs it")."""

    paths: frozenset[Path]
    saved_at: float
    detected_at: float
    apply: bool = False
    services: tuple[str, ...] = ()
    allow_destructive: bool = False

    def merged(self, other: Batch) -> _Trigger:
        """Both batches as one; durations count from the newest save (what now serves)."""
        return dataclasses.replace(self, paths=self.paths | other.paths,
                                   saved_at=max(self.saved_at, other.saved_at),
                                   detected_at=max(self.detected_at, other.detected_at))


@dataclass(frozen=True)
class _Clock:
    saved_at: float
    detect_ms: float
    validate_ms: float


class Reloader:
    """Applies changes to one supervisor's running stack; ``view`` is what runs now."""

    def __init__(
        self,
        supervisor: Supervisor,
        loaded: LoadedWorkspace,
        client: ServiceReloadClient,
        *,
        env_for: EnvFor,
        gateway: GatewaySync | None = None,
        history: ReloadHistory | None = None,
        allow_destructive: Collection[str] = (),
    ) -> None:
        self.supervisor = supervisor
        self.view = AppliedDefinitions(loaded)
        self.client = client
        self.gateway = gateway or GatewaySync(supervisor)
        self.gateway.assume_written(self.view.loaded())
        self.history = history or ReloadHistory(supervisor.layout.reloads_file)
        self.allow_destructive = frozenset(allow_destructive)
        self.actions = ServiceActions(supervisor, self.view, self.gateway, client, env_for)
        self.pending: dict[str, set[str]] = {}
        """Services whose last reload did not happen, with the files it was for: what a bare
        ``lcdev apply`` retries."""
        self._lock = asyncio.Lock()
        self._queued: _Trigger | None = None
        self._wake = asyncio.Event()
        self._collected: list[Event] | None = None
        self._closing = False

    # -- entry points ---------------------------------------------------------------------

    async def run(self, batches: AsyncIterator[Batch]) -> None:
        """Reload for every batch until ``batches`` ends (the watcher stopped)."""
        worker = asyncio.create_task(self._work(), name="lcdev-reloader")
        try:
            async for batch in batches:
                self.submit(batch)
        finally:
            # A reload in progress finishes (cancel this task to cut it short); a queued one
            # is dropped: the stack is stopping.
            self._closing = True
            self._wake.set()
            try:
                await worker
            finally:
                worker.cancel()

    def submit(self, batch: Batch) -> None:
        """Queue a batch; it merges with one already waiting."""
        if self._queued is None:
            self._queued = _Trigger(batch.paths, batch.saved_at, batch.detected_at)
        else:
            self._queued = self._queued.merged(batch)
        self._wake.set()

    async def reload_now(self, services: Iterable[str], allow_destructive: bool
                         ) -> list[Event]:
        """``lcdev apply``: reload ``services`` (none: those whose last reload did not happen,
        else those whose definitions differ from what runs, else all) after any reload in
        progress; return the events it produced."""
        now = time.time()
        return await self._collecting(_Trigger(
            frozenset(), now, now, apply=True, services=tuple(services),
            allow_destructive=allow_destructive))

    async def handle(self, batch: Batch) -> list[Event]:
        """Reload for one batch now (after any reload in progress); return its events."""
        return await self._collecting(_Trigger(batch.paths, batch.saved_at, batch.detected_at))

    async def _collecting(self, trigger: _Trigger) -> list[Event]:
        async with self._lock:
            self._collected = []
            try:
                await self._guarded(trigger)
                return self._collected
            finally:
                self._collected = None

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.gateway.aclose()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            trigger, self._queued = self._queued, None
            if trigger is not None:
                async with self._lock:
                    await self._guarded(trigger)

    async def _guarded(self, trigger: _Trigger) -> None:
        """One reload; whatever it raises becomes an event, never a dead supervisor."""
        try:
            await self._reload(trigger)
        except Exception as exc:
            logger.exception("hot reload failed")
            self._emit(ReloadFailed(name="workspace", reason="failed",
                                    message=f"the reload stopped on an internal error:"
                                            f" {type(exc).__name__}: {exc}",
                                    paths=self._shown(trigger.paths)))

    # -- one reload -----------------------------------------------------------------------

    async def _reload(self, trigger: _Trigger) -> None:
        """Validate, decide, apply. A save that changes nothing that runs (a README, a file no
        service watches) reports nothing; ``ReloadStarted`` opens every reload that does."""
        root = self.view.root
        shown = self._shown(trigger.paths)
        started = time.monotonic()
        # In the loop's own thread: unchanged files come from the parse cache, and the one
        # saved file (~20 ms in ruamel's pure-Python parser) is on the critical path anyway;
        # a worker thread only added hand-over and GIL waits behind the log pumps.
        new = load_workspace(root)
        clock = _Clock(trigger.saved_at, max(0.0, trigger.detected_at - trigger.saved_at) * 1000,
                       (time.monotonic() - started) * 1000)
        dirs = {**self.view.service_dirs, **new.service_dirs}
        if not new.ok or new.workspace is None:
            touched = classify_paths(trigger.paths, root, dirs)
            if trigger.apply or touched.touched or touched.workspace_file or touched.stack_files:
                names = list(trigger.services) or sorted(touched.touched)
                self._emit(ReloadStarted(services=names, paths=shown))
                for event in invalid_events(new.problems, root, dirs, shown):
                    self._emit(event)
            return
        decision, paths = self._decide(trigger, new)
        if trigger.apply or not decision.empty:
            self._emit(ReloadStarted(services=decision.services, paths=shown))
        await self._apply(decision, new, clock, paths, trigger.allow_destructive)

    def _decide(self, trigger: _Trigger, new: LoadedWorkspace
                ) -> tuple[ReloadDecision, dict[str, list[str]]]:
        old = self.view.loaded()
        known = old.services.keys() | new.services.keys()
        if not trigger.apply:
            dirs = {**self.view.service_dirs, **new.service_dirs}
            changed = classify_paths(trigger.paths, self.view.root, dirs)
            paths = {name: self._shown(found) for name, found in changed.touched.items()}
            return decide(old, new, changed), paths
        if trigger.services:
            for name in sorted(set(trigger.services) - known):
                self._emit(ReloadFailed(name=name, reason="failed",
                                        message=f"there is no service named '{name}'",
                                        hint=f"services: {', '.join(sorted(known))}"))
            named = [n for n in trigger.services if n in known]
            return decide(old, new, ChangedPaths(touched={n: [] for n in named}),
                          force=named), {}
        everything = ChangedPaths(workspace_file=True, touched={n: [] for n in known})
        decision = decide(old, new, everything, force=self.pending.keys() & known)
        if decision.empty:
            decision = decide(old, new, everything, force=known)
        return decision, {}

    async def _apply(self, decision: ReloadDecision, new: LoadedWorkspace, clock: _Clock,
                     paths: dict[str, list[str]], allow_destructive: bool) -> None:
        assert new.workspace is not None
        if decision.workspace is not None:
            self.view.apply_workspace(new.workspace)
        failed: set[str] = set()
        for wave in reload_waves(new.services, [*decision.swap, *sorted(decision.restart)]):
            skipped = [n for n in wave if decision.caused_by.get(n) in failed]
            for name in skipped:  # its producer did not change after all
                self.pending.setdefault(name, set())
            outcomes = await self._together({
                name: self._reload_one(name, new, decision, allow_destructive)
                for name in wave if name not in skipped})
            published = await self.gateway.publish(self.view.loaded())
            self._report(outcomes, published, clock, decision, paths)
            failed |= {o.name for o in outcomes if not o.ok}
        if decision.start:
            outcomes = await self._together({
                name: self.actions.start(name, new, decision.changes[name])
                for name in decision.start})
            self._report(outcomes, await self.gateway.publish(self.view.loaded()), clock,
                         decision, paths)
        if decision.stop:
            for name in decision.stop:
                self.view.drop(name)
            published = await self.gateway.publish(self.view.loaded())  # no route, then stop
            outcomes = await self._together({
                name: self.actions.stop(name, decision.changes[name]) for name in decision.stop})
            self._report(outcomes, published, clock, decision, paths)
        await self.gateway.publish(self.view.loaded())  # secrets, when nothing else moved
        if (decision.workspace is not None and decision.workspace.changed) or \
                decision.stack_files:
            applied = list(decision.workspace.applied) if decision.workspace else []
            self._emit(WorkspaceReloaded(applied=applied, needs_up=decision.needs_up(),
                                         seconds=max(0.0, time.time() - clock.saved_at)))

    def _reload_one(self, name: str, new: LoadedWorkspace, decision: ReloadDecision,
                    allow_destructive: bool) -> Awaitable[Outcome]:
        changes = decision.changes.get(name) or diff_service(self.view.services.get(name),
                                                             new.services.get(name))
        if name in decision.restart:
            return self.actions.restart(name, new, changes)
        allowed = allow_destructive or name in self.allow_destructive
        return self.actions.swap(name, new, changes, force=decision.swap[name],
                                 allow_destructive=allowed)

    async def _together(self, actions: dict[str, Awaitable[Outcome]]) -> list[Outcome]:
        """Run one action per service concurrently; one that raises fails alone."""
        results = await asyncio.gather(*actions.values(), return_exceptions=True)
        outcomes: list[Outcome] = []
        for name, result in zip(actions, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                logger.error("reloading %s failed", name, exc_info=result)
                failure = ReloadFailed(name=name, reason="failed",
                                       message=f"{type(result).__name__}: {result}")
                outcomes.append(Outcome(name, "failed", failure=failure))
            else:
                outcomes.append(result)
        return outcomes

    # -- reporting ------------------------------------------------------------------------

    def _report(self, outcomes: list[Outcome], published: Published | None, clock: _Clock,
                decision: ReloadDecision, paths: dict[str, list[str]]) -> None:
        for outcome in outcomes:
            shown = paths.get(outcome.name, [])
            if outcome.failure is not None:
                self.pending.setdefault(outcome.name, set()).update(shown)
                self._emit(dataclasses.replace(outcome.failure, paths=shown))
                continue
            self.pending.pop(outcome.name, None)
            serving = outcome.serving_at
            timings = {"detect": clock.detect_ms, "validate": clock.validate_ms,
                       **outcome.timings_ms}
            if outcome.gateway and published is not None:
                serving = max(serving, published.at)
                timings["gateway"] = published.ms
            seconds = max(0.0, serving - clock.saved_at)
            timings["total"] = seconds * 1000
            reasons = decision.reasons.get(outcome.name, [])
            changes = outcome.changes or reasons or (
                ["source changed"] if outcome.how == "restarted" else [])
            self._emit(ServiceReloaded(
                name=outcome.name, how=outcome.how, version_before=outcome.version_before,
                version_after=outcome.version_after, changes=changes, seconds=seconds,
                timings_ms={k: round(v, 2) for k, v in timings.items()}, paths=shown))

    def _emit(self, event: Event) -> None:
        self.supervisor.emit(event)
        if self._collected is not None:
            self._collected.append(event)
        try:
            self.history.append(event)
        except OSError as exc:
            self.supervisor.say(f"could not write the reload history: {exc}")

    def _shown(self, paths: Iterable[Path]) -> list[str]:
        return [relative(p, self.view.root).as_posix() for p in sorted(paths)]


def invalid_events(problems: Iterable[Problem], root: Path, dirs: dict[str, Path],
                   paths: list[str]) -> list[ReloadFailed]:
    """One ``ReloadFailed(reason="invalid")`` per service whose files have errors (or
    ``workspace`` for lcdev.yaml and the rest), listing every problem of those files at
    file:line:column relative to ``root``."""
    folders = {relative(folder, root): name for name, folder in dirs.items()}
    shown = [p.relative_to(root) for p in problems]
    bad_files = {p.file for p in shown if p.is_error}
    groups: dict[str, list[Problem]] = {}
    for problem in shown:
        if problem.file in bad_files:
            groups.setdefault(_owner(problem.file, folders), []).append(problem)
    events = []
    for name, found in sorted(groups.items()):
        errors = sum(1 for p in found if p.is_error)
        files = ", ".join(sorted({p.file.as_posix() for p in found}))
        events.append(ReloadFailed(
            name=name, reason="invalid",
            message=f"{errors} error{'s' if errors != 1 else ''} in {files}; the running"
                    " version keeps serving",
            problems=[str(p) for p in found], paths=paths))
    return events


def _owner(file: Path, folders: dict[Path, str]) -> str:
    for parent in file.parents:
        if parent in folders:
            return folders[parent]
    if file.name == SERVICE_FILE and len(file.parts) > 1:
        return file.parent.name
    return "workspace"
