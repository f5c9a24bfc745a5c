"""A workspace of one service (a unique name per test) that tests edit and reload in place,
the service run in this process on real PostgreSQL and tansu, and a real uvicorn server for the
tests that need real HTTP connections."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn

from lcdev.definitions import load_workspace
from lcdev.runtime.service import RuntimeOptions, ServiceRuntime
from lcdev.runtime.swap import SwapEntry

TOKEN = "test-control-token"

NOTES = """\
name: {name}
version: {version}
entities:
  Note:
    fields:
      text: string(20)!
{fields}
endpoints:
  which:
    method: GET
    path: /which
    handler: hooks:which
  slow:
    method: POST
    path: /slow
    handler: hooks:slow
{endpoints}
"""

HOOKS = """\
import asyncio

from .tag import TAG


async def which(ctx):
    return {{"code": "{code}", "tag": TAG}}


async def slow(ctx):
    await asyncio.sleep(float(ctx.body.get("seconds", 0.5)))
    return {{"code": "{code}"}}
"""


def notes_yaml(name: str, *, version: str = "1.0.0", fields: str = "",
               endpoints: str = "") -> str:
    """The notes service; ``fields`` are more lines under ``Note.fields`` (6 spaces in),
    ``endpoints`` more endpoints (2 spaces in)."""
    return NOTES.format(name=name, version=version, fields=fields, endpoints=endpoints)


class Workspace:
    """A workspace on disk whose one service is edited by the tests."""

    def __init__(self, root: Path, prefix: str = "rl") -> None:
        self.root = root
        self.name = f"{prefix}{uuid.uuid4().hex[:10]}"
        self.folder = root / "services" / self.name
        self.folder.mkdir(parents=True)
        (root / "lcdev.yaml").write_text("name: reload-test\n")
        self.write_service(notes_yaml(self.name))
        self.write_hooks("A")
        self.write("tag.py", 'TAG = "t1"\n')

    @property
    def base(self) -> str:
        return f"/{self.name}"

    def write(self, file: str, text: str) -> None:
        (self.folder / file).write_text(text)

    def write_service(self, text: str) -> None:
        self.write("service.yaml", text)

    def write_hooks(self, code: str) -> None:
        self.write("hooks.py", HOOKS.format(code=code))


async def drop_schema(dsn: str, *names: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for name in names:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@dataclass
class Running:
    runtime: ServiceRuntime
    entry: SwapEntry
    client: httpx.AsyncClient
    """Talks to ``entry`` in-process (ASGI), or over real HTTP with ``http=True``."""

    async def reload(self, *, allow_destructive: bool = False,
                     force: bool = False) -> dict[str, Any]:
        """``POST /_lcdev/reload`` as the supervisor sends it."""
        response = await self.client.post(
            "/_lcdev/reload", headers={"x-lcdev-token": TOKEN},
            json={"allow_destructive": allow_destructive, "force": force})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@asynccontextmanager
async def running(ws: Workspace, dsn: str, bootstrap: str, *, http: bool = False,
                  token: str | None = TOKEN, pool_max: int = 4) -> AsyncIterator[Running]:
    """``ws``'s service started in this process; its schema is dropped afterwards."""
    loaded = load_workspace(ws.root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    runtime = ServiceRuntime(loaded, ws.name, RuntimeOptions(
        dsn=dsn, bootstrap=bootstrap, pool_min=1, pool_max=pool_max, control_token=token))
    try:
        entry = await runtime.start()
        if http:
            async with serving(entry) as base_url, httpx.AsyncClient(
                    base_url=base_url, timeout=10) as client:
                yield Running(runtime, entry, client)
        else:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=entry),
                                         base_url="http://svc") as client:
                yield Running(runtime, entry, client)
    finally:
        await runtime.stop()
        await drop_schema(dsn, ws.name.replace("-", "_"))


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free port of 127.0.0.1, bound as main.py binds it (so
    with TCP_NODELAY, which asyncio sets only on sockets it made itself); yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                           log_config=None, log_level="warning",
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: _true(server.started or task.done()), 10, "uvicorn to start")
        assert server.started, task
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _true(value: bool) -> bool:
    return value


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
