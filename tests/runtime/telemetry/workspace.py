"""A two-service workspace for the telemetry tests: a producer with an ``Order`` entity that
publishes ``OrderPlaced`` and a handler endpoint that crashes, and a consumer that inserts a
``Seen`` row for each order and calls its ``remember`` endpoint (a handler writing a ``Memo``).
Service names are unique per test (they name the schemas and topics), and every schema is
dropped afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from lcdev.definitions import LoadedWorkspace, load_workspace
from lcdev.runtime.service import RuntimeOptions, ServiceRuntime

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

PRODUCER = """\
name: {producer}
entities:
  Order:
    fields:
      total: decimal(12, 2)!
      note: text
endpoints:
  boom:
    method: POST
    path: /boom
    handler: handlers:boom
publishes:
  OrderPlaced:
    entity: Order
    when: created
    key: order_id
    map: {{order_id: id}}
    payload:
      order_id: uuid!
      total: decimal(12, 2)!
"""

CONSUMER = """\
name: {consumer}
entities:
  Seen:
    fields:
      order_id: uuid!
      total: decimal(12, 2)
  Memo:
    fields:
      order_id: uuid!
endpoints:
  remember:
    method: POST
    path: /remember
    request:
      order_id: uuid!
    handler: handlers:remember
consumes:
  - event: OrderPlaced
    from: {producer}
    action: insert
    entity: Seen
    map: {{order_id: order_id, total: total}}
  - event: OrderPlaced
    from: {producer}
    action: call
    endpoint: remember
"""

HANDLERS = '''\
async def boom(ctx):
    raise RuntimeError("kaboom: the handler failed")
'''

CONSUMER_HANDLERS = '''\
async def remember(ctx):
    return await ctx.insert("Memo", {"order_id": ctx.body["order_id"]})
'''


@dataclass(frozen=True)
class Names:
    producer: str
    consumer: str


def write_workspace(root: Path) -> Names:
    """The workspace files under ``root``; returns the (unique) service names."""
    suffix = uuid.uuid4().hex[:8]
    names = Names(f"tp{suffix}", f"tc{suffix}")
    (root / "lcdev.yaml").write_text("name: telemetry-test\n")
    for name, text in ((names.producer, PRODUCER), (names.consumer, CONSUMER)):
        folder = root / "services" / name
        folder.mkdir(parents=True)
        (folder / "service.yaml").write_text(text.format(producer=names.producer,
                                                         consumer=names.consumer))
    (root / "services" / names.producer / "handlers.py").write_text(HANDLERS)
    (root / "services" / names.consumer / "handlers.py").write_text(CONSUMER_HANDLERS)
    return names


def load(root: Path) -> LoadedWorkspace:
    loaded = load_workspace(root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded


async def drop_schemas(dsn: str, names: Names) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for name in (names.producer, names.consumer):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@dataclass
class Running:
    names: Names
    producer: ServiceRuntime
    consumer: ServiceRuntime | None
    client: httpx.AsyncClient
    """Talks to the producer's app in-process (ASGI)."""


@asynccontextmanager
async def running(root: Path, dsn: str, bootstrap: str, *,
                  with_consumer: bool = True) -> AsyncIterator[Running]:
    """The producer (and the consumer) started in this process, each with its pool, relay and
    consumers. Tests that stop at once leave the consumer out: stopping it while it still
    connects to Kafka can leave a socket of aiokafka's bootstrap open (a ResourceWarning)."""
    names = write_workspace(root)
    loaded = load(root)
    options = RuntimeOptions(dsn=dsn, bootstrap=bootstrap, pool_min=1, pool_max=4)
    producer = ServiceRuntime(loaded, names.producer, options)
    consumer = ServiceRuntime(loaded, names.consumer, options) if with_consumer else None
    try:
        app = await producer.start()
        if consumer is not None:
            await consumer.start()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield Running(names, producer, consumer, client)
    finally:
        if consumer is not None:
            await consumer.stop()
        await producer.stop()
        await drop_schemas(dsn, names)


async def wait_for(query: str, dsn: str, timeout: float = 10.0) -> None:
    """Until ``query`` returns a true value."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await conn.fetchval(query):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for: {query}")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
