"""The outbox and its relay against real PostgreSQL and tansu: events are published if and only
if their transaction commits, in the contract's wire format, once even with two relays."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import orjson
import pytest

from lcdev.runtime.events import (
    EventDefinitionError,
    EventPayloadError,
    OutboxRelay,
    change_publisher,
    enqueue,
)
from tests.runtime.events.helpers import (
    read_topic,
    schema_of,
    service_db,
    shop_pair,
    trace_id_of,
    wait_until,
)

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def _outbox(source: Any, schema: str) -> list[Any]:
    """The outbox rows, read through a pool or a connection."""
    return list(await source.fetch(f'SELECT * FROM "{schema}".lcdev_outbox ORDER BY created_at'))


def test_event_is_published_after_commit_and_never_after_rollback(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    producer, _ = shop_pair(version="2.3.0")
    topic = producer.topic("OrderPlaced")
    assert topic == f"{producer.name}.OrderPlaced.v2"

    async def scenario() -> None:
        async with service_db(pg_dsn, producer) as pools:
            pool = pools[producer.name]
            relay = OutboxRelay(pool, producer, kafka_bootstrap)
            await relay.start()
            try:
                order_id = uuid.uuid4()
                async with pool.acquire() as conn:
                    tx = conn.transaction()
                    await tx.start()
                    event_id = await enqueue(
                        conn, producer, "OrderPlaced",
                        {"order_id": order_id, "total": Decimal("12.50"), "note": None},
                        key=None, headers={"traceparent": TRACEPARENT})
                    await asyncio.sleep(0.3)  # the relay cannot see an uncommitted row
                    assert relay.published == 0
                    await tx.commit()
                await wait_until(lambda: _is(relay.published == 1), 5, "the publication")
                async with pool.acquire() as conn:  # rolled back: never published
                    tx = conn.transaction()
                    await tx.start()
                    await enqueue(conn, producer, "OrderPlaced",
                                  {"order_id": uuid.uuid4(), "total": "1.00"})
                    await tx.rollback()
                    last = await enqueue(conn, producer, "OrderPlaced",
                                         {"order_id": uuid.uuid4(), "total": 3})
                records = await read_topic(kafka_bootstrap, topic, expect=3, timeout=1.5)
                rows = await _outbox(pool, schema_of(producer))
            finally:
                await relay.stop()
        assert [r.value and orjson.loads(r.value)["id"] for r in records] == [
            str(event_id), str(last)]
        first = records[0]
        assert first.partition == 0
        assert first.key == str(order_id).encode()
        envelope = orjson.loads(first.value)
        assert envelope["event"] == "OrderPlaced"
        assert envelope["source"] == producer.name
        assert envelope["data"] == {"order_id": str(order_id), "total": "12.50", "note": None}
        assert dt.datetime.fromisoformat(envelope["time"]).tzinfo is not None
        headers = {k: v.decode() for k, v in first.headers}
        assert trace_id_of(headers.pop("traceparent")) == trace_id_of(TRACEPARENT)
        assert headers == {"lcdev-event-id": str(event_id), "lcdev-event": "OrderPlaced"}
        assert len(rows) == 2
        assert all(r["published_at"] is not None for r in rows)

    asyncio.run(scenario())


async def _is(value: bool) -> bool:
    return value


def test_change_publisher_enqueues_matching_events_only(pg_dsn: str) -> None:
    producer, _ = shop_pair()
    hook = change_publisher(producer)
    order = {"id": uuid.uuid4(), "customer_id": uuid.uuid4(), "total": Decimal("250.00"),
             "status": "new", "note": "ring twice", "created_at": dt.datetime.now(dt.UTC),
             "updated_at": dt.datetime.now(dt.UTC)}

    async def scenario() -> list[Any]:
        async with service_db(pg_dsn, producer) as pools, \
                pools[producer.name].acquire() as conn:
            await hook(conn, "Order", "created", order)                    # OrderPlaced
            await hook(conn, "Order", "updated", order)                    # status new: no
            await hook(conn, "Order", "updated", {**order, "status": "paid"})  # BigOrderPaid
            await hook(conn, "Order", "updated",
                       {**order, "status": "paid", "total": Decimal("99")})  # too small: no
            await hook(conn, "Order", "deleted", order)                    # OrderRow (the row)
            await hook(conn, "Other", "created", order)                    # other entity: no
            return await _outbox(conn, schema_of(producer))

    rows = asyncio.run(scenario())
    assert [r["event"] for r in rows] == ["OrderPlaced", "BigOrderPaid", "OrderRow"]
    placed, paid, deleted = (orjson.loads(r["payload"]) for r in rows)
    assert placed == {"order_id": str(order["id"]), "total": "250.00", "note": "ring twice"}
    assert rows[0]["key"] == str(order["id"])
    assert rows[0]["topic"] == producer.topic(
        "OrderPlaced")
    assert paid == {"id": str(order["id"]), "total": "250.00"}
    assert rows[1]["key"] == str(order["id"])  # default key: the first uuid field
    assert deleted["customer_id"] == str(order["customer_id"])
    assert deleted["status"] == "new"
    assert all(r["published_at"] is None for r in rows)


def test_payload_mismatch_is_refused_and_nothing_is_enqueued(pg_dsn: str) -> None:
    producer, _ = shop_pair()

    async def scenario() -> tuple[list[str], list[Any]]:
        async with service_db(pg_dsn, producer) as pools, \
                pools[producer.name].acquire() as conn:
            with pytest.raises(EventPayloadError) as bad:
                await enqueue(conn, producer, "OrderPlaced",
                              {"order_id": "not-a-uuid", "total": "1.234", "extra": 1})
            with pytest.raises(EventDefinitionError, match="does not publish 'Nope'"):
                await enqueue(conn, producer, "Nope", {})
            hook = change_publisher(producer)
            with pytest.raises(EventPayloadError, match="'total' is required but null"):
                await hook(conn, "Order", "created", {
                    "id": uuid.uuid4(), "total": None, "status": "new", "note": None})
            with pytest.raises(EventDefinitionError, match="'note', which the row does not"):
                await hook(conn, "Order", "created", {
                    "id": uuid.uuid4(), "total": 1, "status": "new"})
            return bad.value.problems, await _outbox(conn, schema_of(producer))

    problems, rows = asyncio.run(scenario())
    assert problems == [
        "field 'order_id': expected a UUID, found 'not-a-uuid'",
        "field 'total': '1.234' has more than 2 digits after the point",
        "field 'extra' is not declared in the payload",
    ]
    assert rows == []


def test_a_map_naming_a_missing_entity_field_fails_when_the_hook_is_built() -> None:
    producer, _ = shop_pair()
    broken = producer.model_copy(update={"publishes": {
        "OrderPlaced": producer.publishes["OrderPlaced"].model_copy(
            update={"map": {"order_id": "order_number"}})}})
    with pytest.raises(EventDefinitionError, match="'order_number', which Order does not have"):
        change_publisher(broken)


def test_two_relays_on_one_outbox_publish_each_event_once(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    producer, _ = shop_pair()
    count = 200

    async def scenario() -> tuple[list[Any], list[uuid.UUID], list[OutboxRelay]]:
        async with service_db(pg_dsn, producer) as pools:
            pool = pools[producer.name]
            relays = [OutboxRelay(pool, producer, kafka_bootstrap, batch_size=16)
                      for _ in range(2)]
            for relay in relays:
                await relay.start()
            ids: list[uuid.UUID] = []

            async def writer(n: int) -> None:
                for _ in range(n // 10):
                    async with pool.acquire() as conn, conn.transaction():
                        for _ in range(10):
                            ids.append(await enqueue(conn, producer, "OrderPlaced", {
                                "order_id": uuid.uuid4(), "total": "5.00"}))

            try:
                await asyncio.gather(*(writer(count // 4) for _ in range(4)))
                await wait_until(lambda: _is(sum(r.published for r in relays) >= count), 15,
                                 "every event published")
                await asyncio.sleep(0.2)  # a double publication would show up by now
                records = await read_topic(kafka_bootstrap, producer.topic("OrderPlaced"),
                                           expect=count + 1, timeout=1.0)
            finally:
                for relay in relays:
                    await relay.stop()
        return records, ids, relays

    records, ids, relays = asyncio.run(scenario())
    published = [uuid.UUID(orjson.loads(r.value)["id"]) for r in records]
    assert len(published) == count
    assert set(published) == set(ids)
    assert sum(r.published for r in relays) == count


def test_published_rows_are_deleted_after_the_retention(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    producer, _ = shop_pair()

    async def scenario() -> int:
        async with service_db(pg_dsn, producer) as pools:
            pool = pools[producer.name]
            relay = OutboxRelay(pool, producer, kafka_bootstrap, retention=dt.timedelta(0),
                                cleanup_interval=0.05, poll_interval=0.05)
            await relay.start()
            try:
                async with pool.acquire() as conn:
                    await enqueue(conn, producer, "OrderPlaced",
                                  {"order_id": uuid.uuid4(), "total": "1.00"})
                await wait_until(lambda: _is(relay.published == 1), 5, "the publication")
                await wait_until(lambda: _empty(pool, schema_of(producer)), 5, "the cleanup")
            finally:
                await relay.stop()
            return relay.published

    assert asyncio.run(scenario()) == 1


async def _empty(pool: Any, schema: str) -> bool:
    return not await _outbox(pool, schema)
