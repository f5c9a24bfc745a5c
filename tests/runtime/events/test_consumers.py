"""Consumers against real PostgreSQL and tansu: each event takes effect exactly once (across
restarts and replays), bad records are dead-lettered with their reason while consumption goes
on, failing actions are retried then dead-lettered, and the trace context travels on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from lcdev.definitions import ConsumedEvent, ServiceDefinition
from lcdev.runtime.events import (
    EventConsumers,
    OutboxRelay,
    current_trace_headers,
    enqueue,
)
from tests.runtime.events.helpers import (
    APPLIED_TABLE,
    Action,
    applied_counts,
    recording_action,
    schema_of,
    service_db,
    shop_pair,
    trace_id_of,
    wait_until,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@asynccontextmanager
async def running(pg_dsn: str, bootstrap: str, action: Action | None = None,
                  ) -> AsyncIterator[tuple[ServiceDefinition, ServiceDefinition, dict[str, Any],
                                           OutboxRelay]]:
    producer, consumer = shop_pair()
    async with service_db(pg_dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
        relay = OutboxRelay(pools[producer.name], producer, bootstrap)
        await relay.start()
        try:
            yield producer, consumer, pools, relay
        finally:
            await relay.stop()


def consumers_of(consumer: ServiceDefinition, producer: ServiceDefinition, pool: Any,
                 bootstrap: str, action: Action) -> EventConsumers:
    return EventConsumers(pool, consumer, bootstrap, action, producers=[producer])


async def publish(pool: Any, producer: ServiceDefinition, count: int,
                  total: str = "10.00") -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    async with pool.acquire() as conn, conn.transaction():
        for order_id in ids:
            await enqueue(conn, producer, "OrderPlaced", {"order_id": order_id, "total": total})
    return ids


async def _offset(pool: Any, schema: str) -> int | None:
    value = await pool.fetchval(f'SELECT next_offset FROM "{schema}".lcdev_consumer_offsets')
    return None if value is None else int(value)


def test_each_event_applies_once_across_a_consumer_restart_and_a_replay(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    async def scenario() -> None:
        async with running(pg_dsn, kafka_bootstrap) as (producer, consumer, pools, relay):
            pool, schema = pools[consumer.name], schema_of(consumer)
            action = recording_action(schema)
            first = consumers_of(consumer, producer, pool, kafka_bootstrap, action)
            await first.start()
            ids = await publish(pools[producer.name], producer, 20)
            await wait_until(lambda: _count(pool, schema, 20), 10, "20 applied")
            await first.stop()
            assert await _offset(pool, schema) == 20

            ids += await publish(pools[producer.name], producer, 10)  # while nobody consumes
            second = consumers_of(consumer, producer, pool, kafka_bootstrap, action)
            await second.start()
            try:
                await wait_until(lambda: _count(pool, schema, 30), 10, "30 applied")
                assert second.counts == {"applied": 10}  # resumed at the stored offset

                # Every event is delivered a second time; told so by the relay, the consumer
                # also reads the topic again from its start: 60 duplicates, all skipped.
                # (The relay marks a batch published just after the broker acked it.)
                await wait_until(lambda: _is(relay.published == 30), 5, "30 marked published")
                assert await relay.replay_all() == 30
                await wait_until(lambda: _is(second.counts["duplicate"] == 60), 10,
                                 "the replay skipped")
                await wait_until(lambda: _is(second.lag() == {second.topics[0]: 0}), 5,
                                 "no lag")
            finally:
                await second.stop()
            counts = await applied_counts(pool, schema)
            assert counts == dict.fromkeys(ids, 1)
            assert await _offset(pool, schema) == 60

    asyncio.run(scenario())


async def _count(pool: Any, schema: str, expected: int) -> bool:
    return int(await pool.fetchval(f'SELECT count(*) FROM "{schema}".applied')) >= expected


async def _is(value: bool) -> bool:
    return value


async def _has_row(pool: Any, query: str) -> bool:
    return await pool.fetchval(query) is not None


def test_bad_records_are_dead_lettered_and_the_next_good_one_applies(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    async def scenario() -> None:
        async with running(pg_dsn, kafka_bootstrap) as (producer, consumer, pools, _relay):
            pool, schema = pools[consumer.name], schema_of(consumer)
            topic = producer.topic("OrderPlaced")
            good_id = uuid.uuid4()

            def envelope(data: dict[str, Any], event: str = "OrderPlaced") -> bytes:
                return orjson.dumps({"id": str(uuid.uuid4()), "event": event,
                                     "source": producer.name, "time": "2024-05-01T10:00:00Z",
                                     "data": data})

            raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await raw.start()
            try:
                for value in (b"not json at all", envelope({"order_id": str(good_id)}),
                              envelope({"order_id": "x", "total": "abc"}),
                              envelope({"order_id": str(good_id), "total": "1"}, "Other")):
                    await raw.send_and_wait(topic, value, partition=0,
                                            headers=[("lcdev-event", b"OrderPlaced")])
            finally:
                await raw.stop()
            await publish(pools[producer.name], producer, 1)
            consumers = consumers_of(consumer, producer, pool, kafka_bootstrap,
                                     recording_action(schema))
            await consumers.start()
            try:
                await wait_until(lambda: _count(pool, schema, 1), 10, "the good event applied")
            finally:
                await consumers.stop()
            letters = await pool.fetch(f'SELECT * FROM "{schema}".lcdev_dead_letters'
                                       ' ORDER BY "offset"')
            assert [(r["offset"], r["attempts"]) for r in letters] == [
                (0, 0), (1, 0), (2, 0), (3, 0)]
            reasons = [r["reason"] for r in letters]
            assert [r["code"] for r in letters] == [
                "invalid_event", "invalid_payload", "invalid_payload", "invalid_event"]
            assert reasons[0].startswith("the record value is not JSON")
            assert reasons[1] == ("payload does not match the contract: field 'total' is"
                                  " required but missing")
            assert reasons[2] == (
                "payload does not match the contract: field 'order_id': expected a UUID, found"
                " 'x'; field 'total': expected a decimal, found 'abc'")
            assert reasons[3] == (f"expected event 'OrderPlaced' on topic '{topic}', found"
                                  " 'Other'")
            assert letters[0]["payload"] == "not json at all"
            assert letters[0]["event_id"] is None
            assert letters[0]["event"] == "OrderPlaced"  # from the header
            assert orjson.loads(letters[2]["payload"])["data"]["total"] == "abc"
            assert await _offset(pool, schema) == 5
            assert consumers.counts == {"dead_lettered": 4, "applied": 1}

    asyncio.run(scenario())


def test_a_failing_action_is_retried_then_dead_lettered(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    calls: dict[str, int] = {}

    async def scenario() -> None:
        async with running(pg_dsn, kafka_bootstrap) as (producer, consumer, pools, _relay):
            pool, schema = pools[consumer.name], schema_of(consumer)
            record = recording_action(schema)

            async def flaky(conn: Any, consumed: ConsumedEvent, payload: dict[str, Any]) -> None:
                calls[payload["total"]] = calls.get(payload["total"], 0) + 1
                await record(conn, consumed, payload)  # rolled back when raising below
                if payload["total"] == "13.00":
                    raise RuntimeError("the warehouse is on fire")
                if payload["total"] == "2.00" and calls["2.00"] < 3:
                    raise ConnectionResetError("flaky network")  # an OSError: not counted
                if payload["total"] == "7.00" and calls["7.00"] < 2:
                    raise ValueError("transient")

            producer_pool = pools[producer.name]
            doomed = await publish(producer_pool, producer, 1, total="13.00")
            healed = await publish(producer_pool, producer, 1, total="7.00")
            network = await publish(producer_pool, producer, 1, total="2.00")
            consumers = consumers_of(consumer, producer, pool, kafka_bootstrap, flaky)
            await consumers.start()
            try:
                await wait_until(lambda: _count(pool, schema, 2), 10, "two applied")
            finally:
                await consumers.stop()
            assert await applied_counts(pool, schema) == {healed[0]: 1, network[0]: 1}
            assert calls == {"13.00": 3, "7.00": 2, "2.00": 3}
            letter = await pool.fetchrow(f'SELECT * FROM "{schema}".lcdev_dead_letters')
            assert letter["event_id"] == await pool.fetchval(
                f'SELECT id FROM "{schema_of(producer)}".lcdev_outbox WHERE payload->>'
                "'total' = '13.00'")
            assert letter["attempts"] == 3
            assert letter["code"] == "failed"
            assert letter["reason"] == ("action failed after 3 attempts: RuntimeError: the"
                                        " warehouse is on fire")
            assert orjson.loads(letter["payload"])["data"]["order_id"] == str(doomed[0])
            assert await _offset(pool, schema) == 3

    asyncio.run(scenario())


def test_trace_context_travels_from_enqueue_through_the_action(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    async def scenario() -> None:
        async with running(pg_dsn, kafka_bootstrap) as (producer, consumer, pools, _relay):
            pool = pools[consumer.name]
            seen: list[dict[str, str]] = []

            async def forward(conn: Any, consumed: ConsumedEvent,
                              payload: dict[str, Any]) -> None:
                seen.append(dict(current_trace_headers.get()))
                await enqueue(conn, consumer, "Forwarded", {"order_id": payload["order_id"]})

            async with pools[producer.name].acquire() as conn:
                await enqueue(conn, producer, "OrderPlaced",
                              {"order_id": uuid.uuid4(), "total": Decimal("1.5")},
                              headers={"traceparent": TRACEPARENT, "tracestate": "lc=1"})
            consumers = consumers_of(consumer, producer, pool, kafka_bootstrap, forward)
            await consumers.start()
            query = f'SELECT headers FROM "{schema_of(consumer)}".lcdev_outbox'
            try:
                await wait_until(lambda: _has_row(pool, query), 10, "the forwarded event")
            finally:
                await consumers.stop()
            headers = await pool.fetchval(query)
            [current] = seen
            stored = orjson.loads(headers)
            for found in (current, stored):
                assert trace_id_of(found.pop("traceparent")) == trace_id_of(TRACEPARENT)
                assert found == {"tracestate": "lc=1"}

    asyncio.run(scenario())
