"""``ServiceRuntime``: one low-code service served from its definition, reloadable in place.

On start it migrates the service's schema, opens its connection pool, builds the HTTP app (CRUD,
custom endpoints, OpenAPI and AsyncAPI, health) and starts the outbox relay and the event
consumers; on stop it undoes that in reverse. Health answers 200 only once all of it runs.
What it serves is a :class:`~lcdev.runtime.swap.SwapEntry`: :meth:`ServiceRuntime.reload`
builds the app of a new version of the definition and swaps it in without dropping a request
(the procedure is in reload.py, imported on the first reload only).

Telemetry is decided at start: when a tracer provider is installed (``setup_telemetry`` in
main.py, or a test's), requests get server spans (api/tracing.py) and the pool's connections
make SQL spans (observability/sql.py); when not, neither costs anything. The consumers' lag is
reported on the ``lcdev.consumer.lag`` gauge while they run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lcdev.definitions import LoadedWorkspace, ServiceDefinition, load_workspace
from lcdev.runtime.api.asyncapi import asyncapi_document
from lcdev.runtime.api.crud import crud_routes
from lcdev.runtime.api.endpoints import EndpointRunner, call_endpoint
from lcdev.runtime.api.handlers import HandlerLoader
from lcdev.runtime.api.middleware import ServiceMiddleware, problem_exception_handlers
from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.api.tracing import TracingMiddleware
from lcdev.runtime.data import EntityRepository, migrate, repositories, schema_name
from lcdev.runtime.events import (
    EventConsumers,
    OutboxRelay,
    build_actions,
    change_publisher,
    enqueue,
)
from lcdev.runtime.observability.lag import consumer_lag_gauge
from lcdev.runtime.observability.spans import tracing_enabled
from lcdev.runtime.observability.sql import TracedConnection
from lcdev.runtime.swap import AppSwitch, Generation, SwapEntry

if TYPE_CHECKING:
    from lcdev.runtime.reload import ReloadResult

__all__ = ["RuntimeOptions", "ServiceApp", "ServiceRuntime", "service_folder"]

log = logging.getLogger("lcdev.runtime")


@dataclass(frozen=True)
class RuntimeOptions:
    """Where the service's infrastructure is, and what it may do on start.

    ``control_token``: the token ``POST /_lcdev/reload`` must carry (``LCDEV_CONTROL_TOKEN``);
    ``None`` turns reloading over HTTP off."""

    dsn: str
    bootstrap: str
    allow_destructive: bool = False
    pool_min: int = 2
    pool_max: int = 10
    control_token: str | None = None


@dataclass(frozen=True)
class ServiceApp:
    """What one version of the definition serves: the app, and the repositories and endpoint
    runner its consumers share with it."""

    service: ServiceDefinition
    app: Starlette
    repos: dict[str, EntityRepository]
    runner: EndpointRunner


class ServiceRuntime:
    """Owns one service's pool, app, relay and consumers."""

    def __init__(self, loaded: LoadedWorkspace, name: str, options: RuntimeOptions) -> None:
        self.loaded = loaded
        self.service: ServiceDefinition = loaded.services[name]
        self.options = options
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: EventConsumers | None = None
        self.current: ServiceApp | None = None
        self.switch: AppSwitch | None = None
        self.started = False
        self.migration: Any = None
        self.reload_lock = asyncio.Lock()
        """Held by each reload (and by stop): one at a time."""
        self._tracing = False

    async def start(self) -> SwapEntry:
        """Migrate, connect, start relay and consumers; return the ASGI app to serve."""
        service, options = self.service, self.options
        began = time.perf_counter()
        self._tracing = tracing_enabled()
        self.migration = await migrate(
            options.dsn, service, allow_destructive=options.allow_destructive
        )
        self.pool = await asyncpg.create_pool(
            options.dsn, min_size=options.pool_min, max_size=options.pool_max,
            server_settings={"search_path": f'"{schema_name(service)}", public'},
            connection_class=TracedConnection if self._tracing else asyncpg.Connection,
        )
        self.current = self.build(self.loaded, service)
        self.relay = self.make_relay(service)
        await self.start_relay(self.relay)
        await self.start_consumers(self.make_consumers(self.loaded, self.current))
        self.started = True
        log.info("started", extra={"fields": {
            "version": service.version, "seconds": round(time.perf_counter() - began, 3),
            "tracing": self._tracing}})
        self.switch = AppSwitch(self.current.app, service.version)
        return SwapEntry(self.switch, token=options.control_token, reload=self._reload_call)

    async def stop(self) -> None:
        """Stop consuming, publishing, then close the pool; committed work is never lost.
        Waits for a reload under way to end first."""
        async with self.reload_lock:
            await self.stop_consumers()
            await self.stop_relay()
            if self.pool is not None:
                await self.pool.close()

    # -- reloading -------------------------------------------------------------------------

    async def reload(self, loaded: LoadedWorkspace, *, allow_destructive: bool = False,
                     force: bool = False) -> ReloadResult:
        """Serve ``loaded``'s version of this service (see reload.py for the procedure)."""
        from lcdev.runtime.reload import reload_service

        async with self.reload_lock:
            return await reload_service(self, loaded, allow_destructive=allow_destructive,
                                        force=force, began=time.perf_counter())

    async def reload_from_disk(self, *, allow_destructive: bool = False,
                               force: bool = False) -> ReloadResult:
        """Load the workspace from disk again and :meth:`reload` from it (timed as ``load``)."""
        from lcdev.runtime.reload import reload_service

        async with self.reload_lock:
            began = time.perf_counter()
            loaded = load_workspace(self.loaded.root)
            return await reload_service(self, loaded, allow_destructive=allow_destructive,
                                        force=force, began=began,
                                        load_ms=(time.perf_counter() - began) * 1000)

    async def _reload_call(self, allow_destructive: bool, force: bool) -> dict[str, Any]:
        result = await self.reload_from_disk(allow_destructive=allow_destructive, force=force)
        return result.to_dict()

    def swap(self, loaded: LoadedWorkspace, built: ServiceApp) -> Generation:
        """Make ``built`` the app every new request gets; returns the retired generation."""
        assert self.switch is not None
        self.loaded, self.service, self.current = loaded, built.service, built
        return self.switch.swap(built.app, built.service.version)

    # -- parts -----------------------------------------------------------------------------

    def build(self, loaded: LoadedWorkspace, service: ServiceDefinition,
              loader: HandlerLoader | None = None) -> ServiceApp:
        """The app of ``service``: its routes, handlers (imported now, so a broken module
        fails here), OpenAPI and AsyncAPI documents and middleware."""
        repos = repositories(service)
        on_change = change_publisher(service)
        runner = EndpointRunner(service, repos, publish=enqueue, on_change=on_change,
                                service_dir=service_folder(loaded, service.name),
                                loader=loader)
        routes: list[BaseRoute] = [
            *crud_routes(service, self.pool, repos, on_change),
            *runner.routes(self.pool),
            *self._meta_routes(service, loaded.services),
        ]
        middleware = [ServiceMiddleware.as_middleware()]
        if self._tracing:
            middleware.insert(0, Middleware(TracingMiddleware, untraced=frozenset(
                {f"{service.route.rstrip('/')}/_lcdev/health"})))
        app = Starlette(routes=routes, middleware=middleware,
                        exception_handlers=problem_exception_handlers())
        return ServiceApp(service, app, repos, runner)

    def make_relay(self, service: ServiceDefinition) -> OutboxRelay:
        return OutboxRelay(self.pool, service, self.options.bootstrap)

    def make_consumers(self, loaded: LoadedWorkspace, built: ServiceApp) -> EventConsumers:
        """Consumers of ``built``'s definition. Their ``call`` actions run the endpoints of
        whichever app is current, so a reloaded handler module is what they call."""
        actions = build_actions(built.service, built.repos, self._call_endpoint)
        return EventConsumers(self.pool, built.service, self.options.bootstrap, actions,
                              producers=loaded.services)

    async def _call_endpoint(self, service: ServiceDefinition, name: str, conn: Any, /, *,
                             path_params: Mapping[str, str], body: Any,
                             headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        runner = self.current.runner if self.current is not None else None
        return await call_endpoint(service, name, conn, path_params=path_params, body=body,
                                   runner=runner, headers=headers)

    async def start_relay(self, relay: OutboxRelay) -> None:
        self.relay = relay
        await relay.start()

    async def stop_relay(self) -> None:
        if self.relay is not None:
            await self.relay.stop()

    async def start_consumers(self, consumers: EventConsumers) -> None:
        self.consumers = consumers
        await consumers.start()
        if consumers.topics:
            consumer_lag_gauge().watch(consumers.service.name, consumers)

    async def stop_consumers(self) -> None:
        """Stop consuming; a record being applied is rolled back and read again next time."""
        if self.consumers is not None:
            consumer_lag_gauge().forget(self.consumers)
            await self.consumers.stop()

    def _meta_routes(self, service: ServiceDefinition,
                     services: Mapping[str, ServiceDefinition]) -> list[BaseRoute]:
        openapi = json.dumps(openapi_document(service)).encode()
        asyncapi = json.dumps(asyncapi_document(service, services)).encode()

        async def health(_: Request) -> Response:
            status = 200 if self.started else 503
            return JSONResponse({"status": "ok" if self.started else "starting",
                                 "service": service.name, "version": service.version},
                                status_code=status)

        async def openapi_json(_: Request) -> Response:
            return Response(openapi, media_type="application/json")

        async def asyncapi_json(_: Request) -> Response:
            return Response(asyncapi, media_type="application/json")

        base = service.route.rstrip("/")
        return [
            Route(f"{base}/_lcdev/health", health),
            Route(f"{base}/openapi.json", openapi_json),
            Route(f"{base}/asyncapi.json", asyncapi_json),
        ]


def service_folder(loaded: LoadedWorkspace, name: str) -> Path:
    return loaded.service_dirs.get(name, loaded.root / "services" / name)
