"""``ServiceRuntime``: one low-code service served from its definition.

On start it migrates the service's schema, opens its connection pool, builds the HTTP app (CRUD,
custom endpoints, OpenAPI and AsyncAPI, health) and starts the outbox relay and the event
consumers; on stop it undoes that in reverse. Health answers 200 only once all of it runs.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from lcdev.definitions import LoadedWorkspace, ServiceDefinition
from lcdev.runtime.api.asyncapi import asyncapi_document
from lcdev.runtime.api.crud import crud_routes
from lcdev.runtime.api.endpoints import EndpointRunner, call_endpoint
from lcdev.runtime.api.middleware import ServiceMiddleware, problem_exception_handlers
from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.data import migrate, repositories, schema_name
from lcdev.runtime.events import (
    EventConsumers,
    OutboxRelay,
    build_actions,
    change_publisher,
    enqueue,
)

__all__ = ["RuntimeOptions", "ServiceRuntime"]


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
        self.migration = await migrate(
            options.dsn, service, allow_destructive=options.allow_destructive
        )
        self.pool = await asyncpg.create_pool(
            options.dsn, min_size=options.pool_min, max_size=options.pool_max,
            server_settings={"search_path": f'"{schema_name(service)}", public'},
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
        self.started = True
        _log("started", service=service.name, version=service.version,
             seconds=round(time.perf_counter() - began, 3))
        return Starlette(
            routes=routes,
            middleware=[ServiceMiddleware.as_middleware()],
            exception_handlers=problem_exception_handlers(),
        )

    async def stop(self) -> None:
        """Stop consuming, publishing, then close the pool; committed work is never lost."""
        if self.consumers is not None:
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


def _log(message: str, **fields: Any) -> None:
    """One structured JSON line on stdout (the supervisor captures it)."""
    print(json.dumps({"level": "info", "msg": message, **fields}), flush=True)  # noqa: T201


def service_folder(loaded: LoadedWorkspace, name: str) -> Path:
    return loaded.service_dirs.get(name, loaded.root / "services" / name)
