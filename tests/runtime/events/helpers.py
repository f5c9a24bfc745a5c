"""Helpers for the events tests: the contract's system tables made with plain SQL in a schema
of the test's own (no dependency on the data layer), small service definitions with unique
names, a raw Kafka reader, and bounded waits."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from lcdev.definitions import ConsumedEvent, ServiceDefinition
from lcdev.runtime.events.tables import EventTables

SYSTEM_TABLES = """
CREATE SCHEMA {s};
CREATE TABLE {s}.lcdev_outbox (
    id uuid PRIMARY KEY, event text NOT NULL, topic text NOT NULL, key text,
    payload jsonb NOT NULL, headers jsonb NOT NULL DEFAULT '{{}}',
    created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz NULL);
CREATE INDEX ON {s}.lcdev_outbox (published_at) WHERE published_at IS NULL;
CREATE INDEX ON {s}.lcdev_outbox (created_at);
CREATE TABLE {s}.lcdev_consumer_offsets (
    topic text, partition int, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE {s}.lcdev_processed_events (
    event_id uuid PRIMARY KEY, consumer text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE {s}.lcdev_dead_letters (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), topic text, partition int, "offset" bigint,
    event_id uuid NULL, event text, payload text NOT NULL, headers jsonb, reason text NOT NULL,
    code text NOT NULL DEFAULT 'failed', attempts int NOT NULL,
    created_at timestamptz DEFAULT now());
"""

Action = Callable[[Any, ConsumedEvent, dict[str, Any]], Awaitable[None]]


def unique(prefix: str) -> str:
    """A service name no other test uses (its schema is the same with ``_``)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def shop_pair(version: str = "1.0.0") -> tuple[ServiceDefinition, ServiceDefinition]:
    """A producer publishing OrderPlaced (on created Order rows) and a consumer of it."""
    producer = ServiceDefinition.model_validate({
        "name": unique("evp"), "version": version,
        "settings": {"limit": {"type": "decimal", "default": 100}},
        "entities": {"Order": {"fields": {
            "customer_id": "uuid!", "total": "decimal(12, 2)!",
            "status": "enum(new, paid) = new", "note": "text"}}},
        "publishes": {
            "OrderPlaced": {"entity": "Order", "when": "created", "key": "order_id",
                            "map": {"order_id": "id"},
                            "payload": {"order_id": "uuid!", "total": "decimal(12, 2)!",
                                        "note": "text"}},
            "BigOrderPaid": {"entity": "Order", "when": "updated",
                             "if": "status == paid and total > settings.limit",
                             "payload": {"id": "uuid!", "total": "decimal(12, 2)!"}},
            "OrderRow": {"entity": "Order", "when": "deleted"},
        },
    })
    consumer = ServiceDefinition.model_validate({
        "name": unique("evc"),
        "entities": {"Seen": {"fields": {"order_id": "uuid!", "total": "decimal(12, 2)"}}},
        "publishes": {"Forwarded": {"payload": {"order_id": "uuid!"}}},
        "consumes": [{"event": "OrderPlaced", "from": producer.name, "action": "insert",
                      "entity": "Seen", "map": {"order_id": "order_id", "total": "total"}}],
    })
    return producer, consumer


async def create_tables(conn: Any, service: ServiceDefinition, extra: str = "") -> None:
    schema = EventTables.of(service).schema
    await conn.execute(SYSTEM_TABLES.format(s=f'"{schema}"') + extra.format(s=f'"{schema}"'))


@asynccontextmanager
async def service_db(dsn: str, *services: ServiceDefinition,
                     extra: str = "") -> AsyncIterator[dict[str, Any]]:
    """One pool per service (its schema with the system tables, plus ``extra`` SQL where
    ``{s}`` is the schema); every schema is dropped afterwards."""
    admin = await asyncpg.connect(dsn)
    pools: dict[str, Any] = {}
    try:
        for service in services:
            await create_tables(admin, service, extra)
            pools[service.name] = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
        yield pools
    finally:
        for pool in pools.values():
            await pool.close()
        for service in services:
            schema = EventTables.of(service).schema
            await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


APPLIED_TABLE = "CREATE TABLE {s}.applied (order_id uuid NOT NULL, total numeric);"


def recording_action(schema: str) -> Action:
    """An action inserting each payload into ``<schema>.applied`` (no unique constraint, so a
    double application would show as two rows)."""

    async def action(conn: Any, consumed: ConsumedEvent, payload: dict[str, Any]) -> None:
        await conn.execute(f'INSERT INTO "{schema}".applied (order_id, total) VALUES ($1, $2)',
                           uuid.UUID(payload["order_id"]), payload["total"])

    return action


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float,
                     what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def read_topic(bootstrap: str, topic: str, *, expect: int,
                     timeout: float = 10.0) -> list[Any]:
    """Every record of partition 0 of ``topic`` until ``expect`` arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, fetch_max_wait_ms=20,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=100)
            records.extend(batch.get(tp, []))
        return records
    finally:
        await consumer.stop()


async def applied_counts(pool: Any, schema: str) -> dict[uuid.UUID, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f'SELECT order_id, count(*) AS n FROM "{schema}".applied'
                                " GROUP BY order_id")
    return {r["order_id"]: int(r["n"]) for r in rows}


def schema_of(service: ServiceDefinition) -> str:
    return EventTables.of(service).schema


def trace_id_of(traceparent: str) -> str:
    """The trace id of a ``traceparent``. Where the trace goes on, the span id is not kept:
    with a tracer provider installed (any test using the ``spans`` fixture installs one for
    the whole process) each hop names its own span: the relay's publish, the action."""
    return traceparent.split("-")[1]
