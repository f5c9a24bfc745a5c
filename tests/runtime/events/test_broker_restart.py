"""tansu keeps nothing across a restart: the outbox replay and the consumers' checks must still
make every event take effect exactly once."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from typing import Any

from lcdev.runtime.events import EventConsumers, OutboxRelay, enqueue
from tests.runtime.events.helpers import (
    APPLIED_TABLE,
    applied_counts,
    recording_action,
    schema_of,
    service_db,
    shop_pair,
    wait_until,
)

Restartable = tuple[str, Callable[[], None]]


async def _all_applied(pool: Any, schema: str, ids: list[uuid.UUID]) -> bool:
    return len(await applied_counts(pool, schema)) >= len(ids)


async def _is(value: bool) -> bool:
    return value


def test_broker_restart_in_the_middle_of_a_burst(pg_dsn: str,
                                                 restartable_kafka: Restartable) -> None:
    """Events are written before, during and after the broker's outage (a restart takes a
    few seconds here: tansu waits for its clients before it exits)."""
    bootstrap, restart = restartable_kafka
    producer, consumer = shop_pair()

    async def scenario() -> tuple[dict[uuid.UUID, int], list[uuid.UUID], OutboxRelay]:
        async with service_db(pg_dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
            pool, schema = pools[consumer.name], schema_of(consumer)
            relay = OutboxRelay(pools[producer.name], producer, bootstrap)
            consumers = EventConsumers(pool, consumer, bootstrap, recording_action(schema),
                                       producers=[producer])
            await relay.start()
            await consumers.start()
            ids: list[uuid.UUID] = []
            done = asyncio.Event()

            async def burst() -> None:
                while not done.is_set():
                    async with pools[producer.name].acquire() as conn, conn.transaction():
                        for _ in range(3):
                            order_id = uuid.uuid4()
                            await enqueue(conn, producer, "OrderPlaced",
                                          {"order_id": order_id, "total": "4.20"})
                            ids.append(order_id)
                    await asyncio.sleep(random.uniform(0.01, 0.03))

            try:
                writing = asyncio.create_task(burst())
                await wait_until(lambda: _is(len(ids) >= 150), 20, "the burst's start")
                await asyncio.to_thread(restart)  # loses every record the broker had
                after = len(ids)
                await wait_until(lambda: _is(len(ids) >= after + 150), 20, "the burst's end")
                done.set()
                await writing
                await wait_until(lambda: _all_applied(pool, schema, ids), 45,
                                 "every event applied")
                await wait_until(lambda: _is(relay.replays >= 1), 5, "the replay")
                await wait_until(lambda: _is(sum(consumers.lag().values()) == 0), 10,
                                 "the replay consumed")
                return await applied_counts(pool, schema), ids, relay
            finally:
                await consumers.stop()
                await relay.stop()

    counts, ids, relay = asyncio.run(scenario())
    assert len(ids) >= 300
    assert counts == dict.fromkeys(ids, 1)
    assert relay.published > len(ids)  # the lost records were sent again


def test_a_consumer_restarted_after_the_broker_reads_the_new_log_from_its_start(
        pg_dsn: str, restartable_kafka: Restartable) -> None:
    """The new log can be as long as the stored offset (old rows expired from the outbox, new
    ones written): only the first record tells it is another log."""
    bootstrap, restart = restartable_kafka
    producer, consumer = shop_pair()

    async def publish(pool: Any, count: int) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(count)]
        async with pool.acquire() as conn, conn.transaction():
            for order_id in ids:
                await enqueue(conn, producer, "OrderPlaced",
                              {"order_id": order_id, "total": "1.00"})
        return ids

    async def scenario() -> tuple[dict[uuid.UUID, int], list[uuid.UUID], int]:
        async with service_db(pg_dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
            pool, schema = pools[consumer.name], schema_of(consumer)
            outbox_pool = pools[producer.name]
            relay = OutboxRelay(outbox_pool, producer, bootstrap)
            action = recording_action(schema)
            await relay.start()
            try:
                first = EventConsumers(pool, consumer, bootstrap, action, producers=[producer])
                await first.start()
                ids = await publish(outbox_pool, 20)
                await wait_until(lambda: _all_applied(pool, schema, ids), 10, "20 applied")
                await first.stop()
                # The five oldest rows expire from the outbox (retention), then tansu restarts.
                await outbox_pool.execute(
                    f'DELETE FROM "{schema_of(producer)}".lcdev_outbox WHERE id IN (SELECT id'
                    f' FROM "{schema_of(producer)}".lcdev_outbox ORDER BY created_at LIMIT 5)')
                await asyncio.to_thread(restart)
                await wait_until(lambda: _is(relay.published >= 35), 20, "the replay")
                before = relay.published
                ids += await publish(outbox_pool, 5)  # the new log: 15 replayed + 5 new = 20
                await wait_until(lambda: _is(relay.published >= before + 5), 10,
                                 "the new events")
                second = EventConsumers(pool, consumer, bootstrap, action, producers=[producer])
                await second.start()
                try:
                    await wait_until(lambda: _all_applied(pool, schema, ids), 10,
                                     "25 applied")
                finally:
                    await second.stop()
                offset = await pool.fetchval(
                    f'SELECT next_offset FROM "{schema}".lcdev_consumer_offsets')
                return await applied_counts(pool, schema), ids, int(offset)
            finally:
                await relay.stop()

    counts, ids, offset = asyncio.run(scenario())
    assert counts == dict.fromkeys(ids, 1)
    assert offset == 20


def test_a_relay_restarted_after_the_broker_re_publishes_what_it_lost(
        pg_dsn: str, restartable_kafka: Restartable) -> None:
    bootstrap, restart = restartable_kafka
    producer, consumer = shop_pair()

    async def scenario() -> tuple[dict[uuid.UUID, int], list[uuid.UUID]]:
        async with service_db(pg_dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
            pool, schema = pools[consumer.name], schema_of(consumer)
            relay = OutboxRelay(pools[producer.name], producer, bootstrap)
            await relay.start()
            ids = [uuid.uuid4() for _ in range(10)]
            async with pools[producer.name].acquire() as conn:
                for order_id in ids:
                    await enqueue(conn, producer, "OrderPlaced",
                                  {"order_id": order_id, "total": "2.00"})
            await wait_until(lambda: _is(relay.published == 10), 10, "the publication")
            await relay.stop()
            await asyncio.to_thread(restart)  # nobody consumed them; the broker lost them
            relay = OutboxRelay(pools[producer.name], producer, bootstrap)
            consumers = EventConsumers(pool, consumer, bootstrap, recording_action(schema),
                                       producers=[producer])
            await relay.start()
            await consumers.start()
            try:
                await wait_until(lambda: _all_applied(pool, schema, ids), 15, "10 applied")
                return await applied_counts(pool, schema), ids
            finally:
                await consumers.stop()
                await relay.stop()

    counts, ids = asyncio.run(scenario())
    assert counts == dict.fromkeys(ids, 1)
