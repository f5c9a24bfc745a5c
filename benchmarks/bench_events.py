"""Benchmark: event latency end to end, from the commit of an ``enqueue`` to the consumer's
committed effect (outbox -> relay -> Kafka -> consumer -> its transaction).

A real PostgreSQL and a real tansu are started with lcdev's native backend (or given with
LCDEV_BENCH_DSN / LCDEV_BENCH_KAFKA). A producer service enqueues one event per transaction,
paced (BENCH_RATE events/s, default 100); its OutboxRelay publishes them; a consumer service's
EventConsumers applies each with an action that inserts a row and NOTIFYs the benchmark, so the
arrival of the notification is the moment the effect committed (PostgreSQL delivers a NOTIFY
at commit). Relay, consumers and the writer share one event loop here; services run in
separate processes in a real stack, so these figures are an upper bound.

    .venv/bin/python benchmarks/bench_events.py        # BENCH_EVENTS=300 BENCH_RATE=100
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lcdev.definitions import ConsumedEvent  # noqa: E402
from lcdev.runtime.events import EventConsumers, OutboxRelay, enqueue  # noqa: E402
from tests.runtime.events.helpers import (  # noqa: E402
    APPLIED_TABLE,
    schema_of,
    service_db,
    shop_pair,
)

EVENTS = int(os.environ.get("BENCH_EVENTS", "300"))
RATE = float(os.environ.get("BENCH_RATE", "100"))
WARMUP = 20


@contextlib.contextmanager
def infrastructure() -> Iterator[tuple[str, str]]:
    dsn, kafka = os.environ.get("LCDEV_BENCH_DSN"), os.environ.get("LCDEV_BENCH_KAFKA")
    if dsn and kafka:
        yield dsn, kafka
        return
    from tests.infra import running_component

    with running_component("postgres") as (pg_url, _), \
            running_component("kafka") as (kafka_url, _):
        yield pg_url, kafka_url.removeprefix("kafka://")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(dsn: str, bootstrap: str, count: int, rate: float) -> list[float]:
    producer, consumer = shop_pair()
    schema = schema_of(consumer)
    committed: dict[str, float] = {}
    applied: dict[str, float] = {}
    done = asyncio.Event()

    async def action(conn: Any, consumed: ConsumedEvent, payload: dict[str, Any]) -> None:
        await conn.execute(f'INSERT INTO "{schema}".applied (order_id, total) VALUES ($1, $2)',
                           uuid.UUID(payload["order_id"]), payload["total"])
        await conn.execute("SELECT pg_notify('bench_applied', $1)", payload["order_id"])

    def on_applied(_conn: Any, _pid: int, _channel: str, order_id: str) -> None:
        applied[order_id] = time.perf_counter()
        if len(applied) >= count + WARMUP:
            done.set()

    async with service_db(dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
        listener = await asyncpg.connect(dsn)
        await listener.add_listener("bench_applied", on_applied)
        relay = OutboxRelay(pools[producer.name], producer, bootstrap)
        consumers = EventConsumers(pools[consumer.name], consumer, bootstrap, action,
                                   producers=[producer])
        await relay.start()
        await consumers.start()
        try:
            for i in range(count + WARMUP):
                order_id = uuid.uuid4()
                async with pools[producer.name].acquire() as conn:
                    async with conn.transaction():
                        await enqueue(conn, producer, "OrderPlaced",
                                      {"order_id": order_id, "total": "9.99"})
                    if i >= WARMUP:
                        committed[str(order_id)] = time.perf_counter()
                await asyncio.sleep(1 / rate)
            await asyncio.wait_for(done.wait(), 60)
        finally:
            await consumers.stop()
            await relay.stop()
            await listener.close()
    return [(applied[k] - t) * 1000 for k, t in committed.items()]


def main() -> None:
    with infrastructure() as (dsn, bootstrap):
        latencies = asyncio.run(run(dsn, bootstrap, EVENTS, RATE))
    print(f"event end to end (enqueue commit -> consumer's effect committed), {len(latencies)}"
          f" events at {RATE:g}/s, one process")
    print(f"  p50 {percentile(latencies, 0.50):6.1f} ms   (target < 20 ms)")
    print(f"  p90 {percentile(latencies, 0.90):6.1f} ms")
    print(f"  p99 {percentile(latencies, 0.99):6.1f} ms   (target < 100 ms)")
    print(f"  max {max(latencies):6.1f} ms   mean {statistics.fmean(latencies):.1f} ms")


if __name__ == "__main__":
    main()
