"""Hot reload of a running service: serve a new version of its definition in place.

:func:`reload_service` (called by ``ServiceRuntime.reload``, one at a time) does, in order:

1. **Validate.** Definitions with errors: ``invalid``, every problem at ``file:line:col``.
2. **Compare** the new definition, and the definitions of the events it consumes, with what
   is served: equal (and not ``force``) is ``unchanged`` and nothing happens.
3. **Build** the new app: routes, handlers (every escape-hatch module imported afresh; one
   that fails is ``failed`` with its ``file:line``), OpenAPI and AsyncAPI, and the consumers
   and relay when what they do changed (:func:`consumers_key`, :func:`relay_key`).
4. **Migrate** when the entities changed (one transaction; ``refused`` for destructive
   changes unless allowed, ``failed`` when the database refuses; a change that only adds is
   applied from the two definitions' metadata in ~20 ms, see data/migrate_additive.py).
   When the migration drops or changes a table or column the running app reads
   (:func:`reshapes_stored_data`), consumers and a relay being replaced are stopped *before*
   it, so they never act on a schema they were not built for (a refused or failed migration
   starts them again as they were), and new requests are held while those in flight end
   first (at most ``DRAIN_TIMEOUT_S``): no request runs on the old app across such a change,
   and none fails; they wait for the migration instead. A change that only adds needs none
   of this: what the old app and workers read and write is still there, so they run on until
   the swap, and the path from the save to serving stays short.
5. **Swap** right after: new requests get the new app, those in flight finish on the old one.
   After a reshaping change, and before the swap, the pool's connections are expired
   (asyncpg's ``expire_connections``): each is closed when released and replaced on the next
   acquire, so no request runs a statement prepared for the old schema (a cached statement
   whose result type changed raises ``InvalidCachedStatementError``, and asyncpg cannot retry
   it inside a transaction). Statements name their columns, so an added column changes no
   statement's result type and needs no reconnect.
6. **Replace workers**: the new consumers resume from the offsets stored with the effects,
   so no event is lost or applied twice; the outbox keeps what was written meanwhile.

Until the swap nothing is changed: every outcome but ``reloaded`` leaves the service exactly
as it was. Each reload is logged as one ``reloaded`` JSON line with its outcome and timings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lcdev.definitions import LoadedWorkspace, Problem, ServiceDefinition
from lcdev.runtime.api.handlers import HandlerError, HandlerLoader
from lcdev.runtime.data import DestructiveChangeRefused, MigrationError, migrate
from lcdev.runtime.data.migrate import MigrationReport, definition_fingerprint
from lcdev.runtime.events import EventConsumers, OutboxRelay, payload_fields
from lcdev.runtime.service import service_folder

if TYPE_CHECKING:
    from lcdev.runtime.service import ServiceApp, ServiceRuntime
    from lcdev.runtime.swap import Generation

__all__ = ["DRAIN_TIMEOUT_S", "Outcome", "ReloadResult", "consumers_key", "relay_key",
           "reload_service", "reshapes_stored_data", "serving_key"]

log = logging.getLogger("lcdev.runtime")
Outcome = Literal["reloaded", "unchanged", "invalid", "refused", "failed"]
Services = Mapping[str, ServiceDefinition]
DRAIN_TIMEOUT_S = 5.0
"""How long a reload that reshapes stored data waits for the requests in flight to end before
it migrates anyway (new requests are held meanwhile)."""


@dataclass
class ReloadResult:
    """The answer of ``POST /_lcdev/reload`` (docs/reload-internals.md)."""

    outcome: Outcome
    service: str
    version_before: str
    version_after: str
    changes: list[str] = field(default_factory=list)
    """Schema changes the migration applied, in plain words."""
    destructive: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    message: str = ""
    swapped_at: float | None = None
    """Wall-clock time the new app became current (``reloaded`` only)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    consumers: Literal["kept", "restarted", "none"] = "none"
    relay: Literal["kept", "restarted"] = "kept"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- what changed ------------------------------------------------------------------------


def _consumed(service: ServiceDefinition, services: Services) -> list[dict[str, Any]]:
    """For each consumes entry: its producer, topic and the event's payload definition."""
    contracts: list[dict[str, Any]] = []
    for entry in service.consumes:
        found = [p for p in services.values()
                 if entry.event in p.publishes and entry.from_service in (None, p.name)]
        if len(found) != 1:
            contracts.append({"event": entry.event, "producer": None})
            continue
        producer = found[0]
        contracts.append({
            "event": entry.event, "producer": producer.name,
            "topic": producer.topic(entry.event),
            "definition": producer.publishes[entry.event].model_dump(mode="json"),
            "payload": {name: f.model_dump(mode="json")
                        for name, f in payload_fields(producer, entry.event).items()},
        })
    return contracts


def serving_key(service: ServiceDefinition, services: Services) -> Any:
    """Everything the app and the workers of ``service`` are built from."""
    return {"service": service.model_dump(mode="json"),
            "consumed": _consumed(service, services)}


def _written(service: ServiceDefinition) -> set[str]:
    """Entities the declarative consumes actions and the declarative endpoints they call
    write, with their child collections."""
    todo = [e.entity for e in service.consumes if e.action != "call" and e.entity]
    for entry in service.consumes:
        endpoint = service.endpoints.get(entry.endpoint or "") if entry.action == "call" else None
        if endpoint is not None and endpoint.entity is not None:
            todo.append(endpoint.entity)
    written: set[str] = set()
    while todo:
        name = todo.pop()
        if name in written or name not in service.entities:
            continue
        written.add(name)
        todo += [child for child, _ in service.entities[name].child_collections().values()]
    return written


def consumers_key(service: ServiceDefinition, services: Services) -> Any:
    """What the consumers do: their entries, the settings their conditions read, the entities
    they write, the endpoints they call, the events their writes publish, and the producers'
    definitions of what they read. (The code of a called handler is not in it: calls go to
    the current app's endpoints.) ``None`` for a service that consumes nothing."""
    if not service.consumes:
        return None
    called = {e.endpoint: True for e in service.consumes if e.action == "call" and e.endpoint}
    return {
        **service.model_dump(mode="json", include={"consumes", "settings", "publishes"}),
        "entities": service.model_dump(mode="json", include={
            "entities": dict.fromkeys(_written(service), True)}).get("entities", {}),
        "endpoints": service.model_dump(mode="json", include={
            "endpoints": called}).get("endpoints", {}),
        "consumed": _consumed(service, services),
    }


def reshapes_stored_data(old: ServiceDefinition, new: ServiceDefinition) -> bool:
    """Whether migrating from ``old`` to ``new`` drops or changes a table or column that the
    app of ``old`` reads (rather than only adding). Its prepared statements would then fail
    (a dropped column) or change their result type (``InvalidCachedStatementError``), so no
    request may run on it across the migration."""
    for name, entity in old.entities.items():
        other = new.entities.get(name)
        if other is None or other.timestamps != entity.timestamps:
            return True
        if any(other.fields.get(field) != definition
               for field, definition in entity.fields.items()):
            return True
    return False


def relay_key(service: ServiceDefinition) -> Any:
    """What the relay publishes: the service's events."""
    return service.model_dump(mode="json", include={"publishes"})


# -- the procedure -------------------------------------------------------------------------


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _shown(problem: Problem, root: Path) -> str:
    p = problem.relative_to(root)
    return f"{p.file.as_posix()}:{p.line}:{p.column}: {p.severity}: {p.message}"


def _handler_problem(exc: HandlerError, root: Path) -> list[str]:
    if exc.file is None:
        return [f"error: {exc}"]
    file = exc.file.relative_to(root) if exc.file.is_relative_to(root) else exc.file
    return [f"{file.as_posix()}:{exc.line}: error: {exc}"]


class _Reload:
    """One reload of one service (see the module docstring)."""

    def __init__(self, runtime: ServiceRuntime, loaded: LoadedWorkspace,
                 result: ReloadResult, allow_destructive: bool, force: bool) -> None:
        self.rt, self.loaded, self.result = runtime, loaded, result
        self.allow_destructive, self.force = allow_destructive, force
        self.in_flight_at_swap = 0
        self.workers_ms = 0.0
        """Stopping and starting consumers and relay (part of ``total``)."""
        self.held_ms = 0.0
        """How long new requests were held (a migration that reshapes stored data)."""

    def _definition(self) -> ServiceDefinition | None:
        loaded, name, result = self.loaded, self.result.service, self.result
        if not loaded.ok:
            result.outcome = "invalid"
            result.problems = [_shown(p, loaded.root) for p in loaded.errors]
            count = len(result.problems)
            result.message = (f"the definitions have {count} error{'s' if count > 1 else ''};"
                              " the running version keeps serving")
            return None
        service = loaded.services.get(name)
        if service is None:
            result.outcome = "invalid"
            result.message = f"service '{name}' is no longer defined in the workspace"
        elif service.kind != "lowcode":
            result.outcome = "failed"
            result.message = f"service '{name}' is now a code service: it needs a restart"
            service = None
        return service

    async def run(self) -> None:
        rt, result = self.rt, self.result
        old = rt.service
        result.consumers = "kept" if old.consumes else "none"
        new = self._definition()
        if new is None:
            return
        before, after = rt.loaded.services, self.loaded.services
        result.version_after = new.version
        if serving_key(old, before) == serving_key(new, after) and not self.force:
            result.outcome = "unchanged"
            return
        began = time.perf_counter()
        loader = HandlerLoader(new.name, service_folder(self.loaded, new.name))
        previous_modules = loader.invalidate()
        try:
            built = rt.build(self.loaded, new, loader)
            consumers = (rt.make_consumers(self.loaded, built)
                         if consumers_key(old, before) != consumers_key(new, after) else None)
            relay = rt.make_relay(new) if relay_key(old) != relay_key(new) else None
        except Exception as exc:  # a module that does not import, or a definition the
            loader.restore(previous_modules)  # events part cannot serve: nothing changes
            result.outcome, result.message = "failed", str(exc)
            if isinstance(exc, HandlerError):
                result.problems = _handler_problem(exc, self.loaded.root)
            return
        finally:
            result.timings_ms["build"] = _ms(began)
        migrates = definition_fingerprint(old) != definition_fingerprint(new)
        if migrates and reshapes_stored_data(old, new):
            # replaced workers must not act on a schema they were not made for
            await self._stop_workers(consumers, relay)
            if not await self._migrate_and_swap(built, hold=True):
                loader.restore(previous_modules)
                await self._resume_workers(consumers, relay)
                return
        elif migrates:  # only added: what the old workers read and write is still there, so
            # they run on until the swap, off the path from the save to serving
            if not await self._migrate_and_swap(built, hold=False):
                loader.restore(previous_modules)
                return
            await self._stop_workers(consumers, relay)
        else:  # the old workers may run on until the swap: the schema stays as it is
            self._swap(built)
            await self._stop_workers(consumers, relay)
        await self._start_workers(consumers, relay)
        result.outcome = "reloaded"
        result.consumers = ("restarted" if consumers is not None
                            else "kept" if new.consumes else "none")
        result.relay = "restarted" if relay is not None else "kept"

    async def _migrate_and_swap(self, built: ServiceApp, hold: bool) -> bool:
        """Migrate, then swap at once; False (nothing changed) when the migration did not
        run. With ``hold``, new requests wait and those in flight end first."""
        switch, result = self.rt.switch, self.result
        assert switch is not None
        began = time.perf_counter()
        if hold:
            switch.hold()
        try:
            if hold:
                await self._drain(switch.current)
            report = await self._migrate(built.service)
            if report is None:
                return False
            result.changes, result.destructive = list(report.changes), list(report.destructive)
            if report.changed and hold and self.rt.pool is not None:
                # see the module docstring; a change that only adds leaves every statement
                # of the old app valid (their column lists are explicit), so no reconnects
                await self.rt.pool.expire_connections()
            self._swap(built)
            return True
        finally:
            if hold:
                switch.release()
                self.held_ms = _ms(began)

    async def _drain(self, generation: Generation) -> None:
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await generation.wait_idle()
        except TimeoutError:
            log.warning("%s: %d requests still in flight after %.0f s; migrating anyway",
                        self.result.service, generation.in_flight, DRAIN_TIMEOUT_S)

    async def _migrate(self, new: ServiceDefinition) -> MigrationReport | None:
        """The migration's report, or ``None`` when it was refused or failed (then, being
        one transaction, it changed nothing)."""
        began = time.perf_counter()
        result = self.result
        try:
            return await migrate(self.rt.options.dsn, new, previous=self.rt.service,
                                 allow_destructive=self.allow_destructive)
        except DestructiveChangeRefused as exc:
            result.outcome, result.destructive = "refused", list(exc.changes)
            result.message = (f"refused {len(exc.changes)} destructive change"
                              f"{'s' if len(exc.changes) > 1 else ''}; nothing was changed")
        except MigrationError as exc:
            result.outcome, result.message = "failed", str(exc)
        except Exception as exc:  # say, the database is unreachable
            result.outcome = "failed"
            result.message = f"the migration did not run: {type(exc).__name__}: {exc}"
        finally:
            result.timings_ms["migrate"] = _ms(began)
        return None

    def _swap(self, built: ServiceApp) -> None:
        retired = self.rt.swap(self.loaded, built)
        self.result.swapped_at = time.time()
        self.in_flight_at_swap = retired.in_flight

    async def _stop_workers(self, consumers: EventConsumers | None,
                            relay: OutboxRelay | None) -> None:
        began = time.perf_counter()
        if consumers is not None:
            await self.rt.stop_consumers()
        if relay is not None:
            await self.rt.stop_relay()
        self.workers_ms += _ms(began)

    async def _resume_workers(self, consumers: EventConsumers | None,
                              relay: OutboxRelay | None) -> None:
        """Start again the running version's workers stopped for a migration that did not
        happen."""
        rt = self.rt
        if consumers is not None and rt.consumers is not None:
            await rt.start_consumers(rt.consumers)
        if relay is not None and rt.relay is not None:
            await rt.start_relay(rt.relay)

    async def _start_workers(self, consumers: EventConsumers | None,
                             relay: OutboxRelay | None) -> None:
        began = time.perf_counter()
        if relay is not None:
            await self.rt.start_relay(relay)
        if consumers is not None:
            await self.rt.start_consumers(consumers)
        self.workers_ms += _ms(began)


async def reload_service(runtime: ServiceRuntime, loaded: LoadedWorkspace, *,
                         allow_destructive: bool, force: bool, began: float,
                         load_ms: float = 0.0) -> ReloadResult:
    """Reload ``runtime`` to ``loaded``'s definition of its service (the caller holds
    ``runtime.reload_lock``); ``began`` is when the reload started (``perf_counter``)."""
    old = runtime.service
    result = ReloadResult("unchanged", old.name, old.version, old.version,
                          timings_ms={"load": round(load_ms, 2), "migrate": 0.0, "build": 0.0})
    attempt = _Reload(runtime, loaded, result, allow_destructive, force)
    try:
        await attempt.run()
    except Exception as exc:  # said in the answer, like every other outcome
        log.exception("reload of %s failed", old.name)
        result.message = f"{type(exc).__name__}: {exc}"
        if result.swapped_at is None:
            result.outcome = "failed"
        else:  # the new version serves; its consumers or relay did not start
            result.outcome = "reloaded"
    result.timings_ms["total"] = _ms(began)
    level = logging.INFO if result.outcome in ("reloaded", "unchanged") else logging.WARNING
    words = {"reloaded": "reloaded", "unchanged": "reload: nothing changed",
             "invalid": "reload refused: invalid definition",
             "refused": "reload refused: destructive change", "failed": "reload failed"}
    log.log(level, words[result.outcome], extra={"fields": {
        "outcome": result.outcome, "version": result.version_after,
        "version_before": result.version_before, "timings_ms": result.timings_ms,
        "changes": result.changes, "consumers": result.consumers, "relay": result.relay,
        "workers_ms": round(attempt.workers_ms, 2), "held_ms": attempt.held_ms,
        "in_flight_at_swap": attempt.in_flight_at_swap,
        **({"problems": result.problems} if result.problems else {}),
        **({"message": result.message} if result.message else {})}})
    return result
