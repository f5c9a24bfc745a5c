"""Helpers for endpoint tests: services with unique names, a migrated pool, the outbox, and
the service's HTTP app (custom endpoints behind the service middleware)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from ruamel.yaml import YAML
from starlette.applications import Starlette

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.endpoints import EndpointRunner
from lcdev.runtime.api.middleware import ServiceMiddleware, problem_exception_handlers
from lcdev.runtime.data import migrate, repositories, schema_name
from lcdev.runtime.events.outbox import change_publisher, enqueue

REPO = Path(__file__).resolve().parents[3]
INVENTORY = REPO / "scaffolds" / "workspace-shop" / "services" / "inventory"


def unique_name(prefix: str = "ep") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def service_from_yaml(text: str, name: str | None = None) -> ServiceDefinition:
    """A service from YAML text, its ``name:`` replaced by a name no other test uses."""
    data = YAML(typ="safe").load(text)
    data["name"] = name or unique_name()
    data.pop("route", None)
    return ServiceDefinition.model_validate(data)


def inventory() -> ServiceDefinition:
    """The shop scaffold's inventory service under a unique name."""
    return service_from_yaml((INVENTORY / "service.yaml").read_text(), unique_name("inv"))


class Stack:
    """A migrated service with its pool, runner and HTTP client."""

    def __init__(self, service: ServiceDefinition, pool: asyncpg.Pool,
                 runner: EndpointRunner, client: httpx.AsyncClient) -> None:
        self.service, self.pool, self.runner, self.client = service, pool, runner, client
        self.schema = schema_name(service)

    async def outbox(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f'SELECT event, topic, key, payload::text AS payload, headers::text AS headers'
            f' FROM "{self.schema}".lcdev_outbox ORDER BY created_at')
        return [{**dict(r), "payload": orjson.loads(r["payload"]),
                 "headers": orjson.loads(r["headers"])} for r in rows]

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.pool.fetch(
            sql.replace("{schema}", f'"{self.schema}"'), *args)]


@asynccontextmanager
async def running(dsn: str, service: ServiceDefinition,
                  service_dir: Path | None = None) -> AsyncIterator[Stack]:
    """Migrate ``service``, open a pool, and serve its custom endpoints over ASGI."""
    await migrate(dsn, service)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
    try:
        runner = EndpointRunner(service, repositories(service), publish=enqueue,
                                on_change=change_publisher(service), service_dir=service_dir)
        app = Starlette(routes=runner.routes(pool),
                        middleware=[ServiceMiddleware.as_middleware()],
                        exception_handlers=problem_exception_handlers())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield Stack(service, pool, runner, client)
    finally:
        await pool.close()
