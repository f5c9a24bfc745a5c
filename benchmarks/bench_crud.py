"""Benchmark: lcdev's data layer against the same queries hand-written with asyncpg.

In-process, on one real PostgreSQL, with a pool and several concurrent tasks, for three
operations as a CRUD request performs them (input checking, the query, JSON out):

- get by id:      ``repo.get`` vs ``conn.fetchrow(SELECT ... WHERE id = $1)``
- filtered list:  ``parse_list_query`` + ``repo.list`` vs ``conn.fetch(... WHERE status = $1
                  ORDER BY id LIMIT $2)``
- insert:         ``validate_create`` + ``repo.insert`` in a transaction vs an
                  ``INSERT ... RETURNING`` in a transaction, its input converted by hand
                  (no checks) and, as a FastAPI app would do, validated by a pydantic model

Prints ops/s medians and the median of the per-round ratios lcdev / hand-written (target
>= 0.9); the two sides alternate round by round so other load on the machine hits both.
Set ``LCDEV_BENCH_DSN`` to use a running PostgreSQL; otherwise one is started (native backend).
``BENCH_RUNS`` (9 rounds) and ``BENCH_OPS`` (1000 per round and side) size it.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lcdev.definitions import ServiceDefinition  # noqa: E402
from lcdev.runtime.data import (  # noqa: E402
    EntityRepository,
    json_default,
    migrate,
    parse_list_query,
    validate_create,
)

RUNS = int(os.environ.get("BENCH_RUNS", "9"))
OPS = int(os.environ.get("BENCH_OPS", "1000"))
CONCURRENCY = 8
SERVICE = """
name: benchcrud
entities:
  Order:
    fields:
      customer_id: uuid!
      status: enum(new, paid, rejected, cancelled)! = new
      total: {type: decimal, precision: 12, scale: 2, min: 0, required: true}
      currency: string(3) = EUR
      reason: text
"""
COLUMNS = '"id", "customer_id", "status", "total", "currency", "reason", "created_at", "updated_at"'
TABLE = '"benchcrud"."order"'


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, default=json_default)


async def timed(pool: Any, op: Callable[[Any, int], Awaitable[None]]) -> tuple[float, float]:
    """(ops/s, this process's CPU µs per op) of ``op`` run OPS times by CONCURRENCY tasks
    sharing the pool. CPU time is what lcdev's code adds; it is not disturbed by other load."""
    per_task = OPS // CONCURRENCY

    async def task(t: int) -> None:
        for i in range(per_task):
            await op(pool, t * per_task + i)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(task(t) for t in range(CONCURRENCY)))
    ops = per_task * CONCURRENCY
    return (ops / (time.perf_counter() - started),
            (time.process_time() - cpu) / ops * 1e6)


async def main(dsn: str) -> None:
    service = ServiceDefinition.model_validate(YAML(typ="safe").load(SERVICE))
    conn = await asyncpg.connect(dsn)
    await conn.execute('DROP SCHEMA IF EXISTS "benchcrud" CASCADE')
    await conn.close()
    report = await migrate(dsn, service)
    again = await migrate(dsn, service)
    repo = EntityRepository(service, "Order")
    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY)
    customer = str(uuid.uuid4())
    ids: list[uuid.UUID] = []
    async with pool.acquire() as c:
        for i in range(2000):
            row = await repo.insert(c, {"customer_id": uuid.UUID(customer),
                                        "status": ("new", "paid")[i % 2],
                                        "total": Decimal(i) / 4})
            ids.append(row["id"])

    async def lcdev_get(p: Any, i: int) -> None:
        async with p.acquire() as c:
            dumps(await repo.get(c, ids[i % len(ids)]))

    async def hand_get(p: Any, i: int) -> None:
        async with p.acquire() as c:
            row = await c.fetchrow(f"SELECT {COLUMNS} FROM {TABLE} WHERE id = $1",
                                   ids[i % len(ids)])
            dumps(dict(row))

    params = {"status": "paid", "limit": "20"}

    async def lcdev_list(p: Any, i: int) -> None:
        query = parse_list_query(service, "Order", params)
        async with p.acquire() as c:
            page = await repo.list(c, query)
        dumps({"items": page.items, "next_cursor": page.next_cursor, "total": page.total})

    async def hand_list(p: Any, i: int) -> None:
        status, limit = params["status"], int(params["limit"])
        async with p.acquire() as c:
            rows = await c.fetch(f"SELECT {COLUMNS} FROM {TABLE} WHERE status = $1"
                                 " ORDER BY id LIMIT $2", status, limit)
        dumps({"items": [dict(r) for r in rows]})

    body = {"customer_id": customer, "total": "12.50", "reason": "bench"}

    async def lcdev_insert(p: Any, i: int) -> None:
        values = validate_create(service, "Order", body)
        async with p.acquire() as c, c.transaction():
            row = await repo.insert(c, values)
        dumps(row)

    async def hand_insert(p: Any, i: int) -> None:
        values = (uuid.UUID(body["customer_id"]), Decimal(body["total"]), body["reason"])
        async with p.acquire() as c, c.transaction():
            row = await c.fetchrow(
                f"INSERT INTO {TABLE} (customer_id, total, reason) VALUES ($1, $2, $3)"
                f" RETURNING {COLUMNS}", *values)
        dumps(dict(row))

    class OrderIn(BaseModel):
        """What a FastAPI app would declare for the same body."""

        model_config = ConfigDict(extra="forbid")
        customer_id: uuid.UUID
        status: Literal["new", "paid", "rejected", "cancelled"] = "new"
        total: Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]
        currency: Annotated[str, Field(max_length=3)] | None = "EUR"
        reason: str | None = None

    async def pydantic_insert(p: Any, i: int) -> None:
        order = OrderIn.model_validate(body)
        async with p.acquire() as c, c.transaction():
            row = await c.fetchrow(
                f"INSERT INTO {TABLE} (customer_id, status, total, currency, reason)"
                f" VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}",
                order.customer_id, order.status, order.total, order.currency, order.reason)
        dumps(dict(row))

    print(f"in-process, asyncpg pool of {CONCURRENCY}, {CONCURRENCY} tasks; {RUNS} rounds of"
          f" {OPS} ops each side, alternating, so load from elsewhere hits both alike")
    print(f"migrate: first {report.duration_ms:.0f} ms, no-op {again.duration_ms:.1f} ms")
    for name, mine, theirs in (("get by id", lcdev_get, hand_get),
                               ("filtered list", lcdev_list, hand_list),
                               ("insert", lcdev_insert, hand_insert),
                               ("insert vs pydantic-validated", lcdev_insert, pydantic_insert)):
        await timed(pool, mine)  # warm statement caches
        await timed(pool, theirs)
        ours: list[tuple[float, float]] = []
        hand: list[tuple[float, float]] = []
        for i in range(RUNS):
            pair = (mine, theirs) if i % 2 == 0 else (theirs, mine)
            first, second = await timed(pool, pair[0]), await timed(pool, pair[1])
            ours.append(first if i % 2 == 0 else second)
            hand.append(second if i % 2 == 0 else first)
        ratio = statistics.median(a[0] / b[0] for a, b in zip(ours, hand, strict=True))
        print(f"{name}\n  lcdev {statistics.median(o[0] for o in ours):7.0f} ops/s"
              f" ({statistics.median(o[1] for o in ours):4.0f} µs CPU/op)   hand-written"
              f" {statistics.median(h[0] for h in hand):7.0f} ops/s"
              f" ({statistics.median(h[1] for h in hand):4.0f} µs CPU/op)   ratio {ratio:.2f}")
    noop = []
    for _ in range(RUNS):
        noop.append((await migrate(dsn, service)).duration_ms)
    print(f"no-op migrate: median {statistics.median(noop):.1f} ms")
    await pool.close()


if __name__ == "__main__":
    with ExitStack() as stack:
        dsn = os.environ.get("LCDEV_BENCH_DSN")
        if dsn is None:
            from tests.infra import running_component

            dsn, _restart = stack.enter_context(running_component("postgres"))
        asyncio.run(main(dsn))
