"""``ServiceRuntime``: one low-code service served from its definition.

On start it migrates the service's schema, opens its connection pool, builds the HTTP app (CRUD,
custom endpoints, OpenAPI and AsyncAPI, health) and starts the outbox relay and the event
consumers; on stop it undoes that in reverse. Health answers 200 only once all of it runs.

Telemetry is decided at start: when a tracer provider is installed (``setup_telemetry`` in
main.py, or a test's), requests get server spans (api/tracing.py) and the pool's connections
make SQL spans (observability/sql.py); when not, neither costs anything. The consumers' lag is
reported on the ``lcdev.consumer.lag`` gauge while they run.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lcdev.definitions import LoadedWorkspace, ServiceDefinition
from lcdev.runtime.api.asyncapi import asyncapi_document
from lcdev.runtime.api.crud import crud_routes
from lcdev.runtime.api.endpoints import EndpointRunner, call_endpoint
from lcdev.runtime.api.middleware import ServiceMiddleware, problem_exception_handlers
from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.api.tracing import TracingMiddleware
from lcdev.runtime.data import migrate, repositories, schema_name
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

__all__ = ["RuntimeOptions", "ServiceRuntime"]

log = logging.getLogger("lcdev.runtime")


@dataclass(frozen=True)
class RuntimeOptions:
    """Where the service's infrastructure is, and what it may do on start."""

    dsn: str
    bootstrap: str
    allow_destructive: bool = False
    pool_min: int = 2
    pool_max: int = 10


class ServiceRuntime:
    """Owns one service's pool, app, relay and consumers."""

    def __init__(self, loaded: LoadedWorkspace, name: str, options: RuntimeOptions) -> None:
        self.loaded = loaded
        self.service: ServiceDefinition = loaded.services[name]
        self.options = options
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: EventConsumers | None = None
        self.started = False
        self.migration: Any = None

    async def start(self) -> Starlette:
        """Migrate, connect, start relay and consumers; return the app to serve."""
        service, options = self.service, self.options
        began = time.perf_counter()
        tracing = tracing_enabled()
        self.migration = await migrate(
            options.dsn, service, allow_destructive=options.allow_destructive
        )
        self.pool = await asyncpg.create_pool(
            options.dsn, min_size=options.pool_min, max_size=options.pool_max,
            server_settings={"search_path": f'"{schema_name(service)}", public'},
            connection_class=TracedConnection if tracing else asyncpg.Connection,
        )
        repos = repositories(service)
        on_change = change_publisher(service)
        runner = EndpointRunner(
            service, repos, publish=enqueue, on_change=on_change,
            service_dir=service_folder(self.loaded, service.name),
        )
        routes: list[BaseRoute] = [
            *crud_routes(service, self.pool, repos, on_change),
            *runner.routes(self.pool),
            *self._meta_routes(),
        ]
        actions = build_actions(service, repos, functools.partial(call_endpoint, runner=runner))
        self.relay = OutboxRelay(self.pool, service, options.bootstrap)
        self.consumers = EventConsumers(
            self.pool, service, options.bootstrap, actions,
            producers=self.loaded.services,
        )
        await self.relay.start()
        await self.consumers.start()
        if self.consumers.topics:
            consumer_lag_gauge().watch(service.name, self.consumers)
        self.started = True
        log.info("started", extra={"fields": {
            "version": service.version, "seconds": round(time.perf_counter() - began, 3),
            "tracing": tracing}})
        middleware = [ServiceMiddleware.as_middleware()]
        if tracing:
            middleware.insert(0, Middleware(TracingMiddleware, untraced=frozenset(
                {f"{service.route.rstrip('/')}/_lcdev/health"})))
        return Starlette(
            routes=routes,
            middleware=middleware,
            exception_handlers=problem_exception_handlers(),
        )

    async def stop(self) -> None:
        """Stop consuming, publishing, then close the pool; committed work is never lost."""
        if self.consumers is not None:
            consumer_lag_gauge().forget(self.consumers)
            await self.consumers.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.pool is not None:
            await self.pool.close()

    def _meta_routes(self) -> list[BaseRoute]:
        service = self.service
        openapi = json.dumps(openapi_document(service)).encode()
        asyncapi = json.dumps(asyncapi_document(service, self.loaded.services)).encode()

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
