"""The ``lcdev.consumer.lag`` gauge against real PostgreSQL and tansu: records not yet applied
while a consumer is held up, then zero once it caught up; read through a real metric reader."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from lcdev.definitions import ConsumedEvent
from lcdev.runtime.events import EventConsumers, OutboxRelay, enqueue
from lcdev.runtime.observability.lag import LAG_METRIC, ConsumerLagGauge
from tests.runtime.events.helpers import service_db, shop_pair, wait_until


def _lag_points(reader: InMemoryMetricReader) -> dict[tuple[str, str, str], int]:
    data = reader.get_metrics_data()
    points: dict[tuple[str, str, str], int] = {}
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != LAG_METRIC:
                    continue
                for point in metric.data.data_points:  # type: ignore[union-attr]
                    a = point.attributes or {}
                    key = (str(a["messaging.consumer.group.name"]),
                           str(a["messaging.destination.name"]),
                           str(a["messaging.destination.partition.id"]))
                    points[key] = int(point.value)
    return points


def test_lag_counts_the_records_a_held_up_consumer_has_not_applied(
        pg_dsn: str, kafka_bootstrap: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    gauge = ConsumerLagGauge(provider.get_meter("test"))
    producer, consumer = shop_pair()
    topic = producer.topic("OrderPlaced")
    key = (consumer.name, topic, "0")
    gate = asyncio.Event()

    async def held_up(_conn: Any, _consumed: ConsumedEvent, _payload: dict[str, Any]) -> None:
        await gate.wait()

    async def scenario() -> None:
        async with service_db(pg_dsn, producer, consumer) as pools:
            relay = OutboxRelay(pools[producer.name], producer, kafka_bootstrap)
            consumers = EventConsumers(pools[consumer.name], consumer, kafka_bootstrap, held_up,
                                       producers=[producer])
            gauge.watch(consumer.name, consumers)
            assert key not in _lag_points(reader)  # not connected: no lag to tell yet
            async with pools[producer.name].acquire() as conn, conn.transaction():
                for _ in range(5):
                    await enqueue(conn, producer, "OrderPlaced",
                                  {"order_id": uuid.uuid4(), "total": "1.00"})
            await relay.start()
            try:
                await wait_until(lambda: _is(relay.published == 5), 10, "the publication")
                await consumers.start()
                # The first record is being applied: it and the four after it are the lag.
                await wait_until(lambda: _is(_lag_points(reader).get(key) == 5), 10, "lag 5")
                gate.set()
                await wait_until(lambda: _is(consumers.counts["applied"] == 5), 10,
                                 "five applied")
                await wait_until(lambda: _is(_lag_points(reader).get(key) == 0), 10, "lag 0")
                gauge.forget(consumers)
                assert key not in _lag_points(reader)
            finally:
                await consumers.stop()
                await relay.stop()

    try:
        asyncio.run(scenario())
    finally:
        provider.shutdown()


async def _is(value: bool) -> bool:
    return value
