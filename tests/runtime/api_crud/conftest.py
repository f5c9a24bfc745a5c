"""An app made of ``crud_routes`` for the test shop, with a real asyncpg pool opened in the
app's lifespan and a change hook that records calls (and can be told to fail)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx is what this project installs.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.crud import crud_routes
from lcdev.runtime.data import migrate, repositories
from tests.runtime.data.helpers import shop


@dataclass
class Hook:
    """A change hook: records (entity, kind, row) and writes an outbox row in the same
    transaction; raises when ``fail_on`` names the kind."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_on: str | None = None
    schema: str = ""

    async def __call__(self, conn: Any, entity: str, kind: str, row: dict[str, Any]) -> None:
        await conn.execute(
            f'INSERT INTO "{self.schema}".lcdev_outbox (id, event, topic, payload)'
            " VALUES (gen_random_uuid(), $1, 't', '{}')", f"{entity}.{kind}")
        if kind == self.fail_on:
            raise RuntimeError("the change hook failed")
        self.calls.append((entity, kind, row))


@dataclass
class CrudApp:
    """What a test gets: the client, the service, the hook and a way to run SQL."""

    client: TestClient
    service: ServiceDefinition
    hook: Hook
    dsn: str

    def base(self, entity: str) -> str:
        return self.service.collection_path(entity)

    def fetchval(self, sql: str, *args: Any) -> Any:
        async def work() -> Any:
            conn = await asyncpg.connect(self.dsn)
            try:
                return await conn.fetchval(sql.replace("{s}", f'"{self.service.name}"'), *args)
            finally:
                await conn.close()

        return asyncio.run(work())


@pytest.fixture(scope="module")
def migrated(pg_dsn: str) -> ServiceDefinition:
    service = shop()
    asyncio.run(migrate(pg_dsn, service))
    return service


@pytest.fixture
def app(pg_dsn: str, migrated: ServiceDefinition) -> Iterator[CrudApp]:
    hook = Hook(schema=migrated.name)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
        yield
        await state["pool"].close()

    routes = crud_routes(migrated, lambda: state["pool"], repositories(migrated), hook)
    with TestClient(Starlette(routes=routes, lifespan=lifespan),
                    raise_server_exceptions=False) as client:
        yield CrudApp(client, migrated, hook, pg_dsn)
