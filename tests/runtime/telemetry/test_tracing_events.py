"""Spans and log lines of consumed events that go wrong (real PostgreSQL and tansu): a failing
action is an error on its span each time, its retries are logged at warn and its dead letter at
error, all carrying the trace of the record; a record that is not an event is an error too."""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lcdev.definitions import ConsumedEvent
from lcdev.runtime.events import EventConsumers, OutboxRelay, RetryPolicy, enqueue
from lcdev.runtime.observability.logs import JsonLogFormatter
from tests.runtime.events.helpers import service_db, shop_pair, wait_until
from tests.runtime.telemetry.workspace import TRACE_ID, TRACEPARENT


@pytest.fixture
def event_log() -> Iterator[io.StringIO]:
    """JSON lines of the events loggers during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter("consumer"))
    logger = logging.getLogger("lcdev.runtime.events")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


async def _is(value: bool) -> bool:
    return value


def test_a_failing_action_is_traced_logged_and_dead_lettered_in_the_records_trace(
        spans: InMemorySpanExporter, event_log: io.StringIO, pg_dsn: str,
        kafka_bootstrap: str) -> None:
    producer, consumer = shop_pair()
    topic = producer.topic("OrderPlaced")

    async def on_fire(_conn: Any, _consumed: ConsumedEvent, _payload: dict[str, Any]) -> None:
        raise RuntimeError("the warehouse is on fire")

    async def scenario() -> None:
        async with service_db(pg_dsn, producer, consumer) as pools:
            relay = OutboxRelay(pools[producer.name], producer, kafka_bootstrap)
            consumers = EventConsumers(
                pools[consumer.name], consumer, kafka_bootstrap, on_fire, producers=[producer],
                retry=RetryPolicy(attempts=2, initial=0.01, jitter=False))
            async with pools[producer.name].acquire() as conn:
                await enqueue(conn, producer, "OrderPlaced",
                              {"order_id": uuid.uuid4(), "total": "13.00"},
                              headers={"traceparent": TRACEPARENT})
            await relay.start()
            await consumers.start()
            try:
                await wait_until(lambda: _is(consumers.counts["dead_lettered"] == 1), 10,
                                 "the dead letter")
            finally:
                await consumers.stop()
                await relay.stop()

    asyncio.run(scenario())
    ours = [s for s in spans.get_finished_spans()
            if s.context is not None and f"{s.context.trace_id:032x}" == TRACE_ID]
    [process] = [s for s in ours if s.name == f"process {topic}"]
    assert process.kind is SpanKind.CONSUMER
    assert process.status.status_code is StatusCode.ERROR
    assert process.status.description == ("action failed after 2 attempts: RuntimeError: the"
                                          " warehouse is on fire")
    assert [e.name for e in process.events] == ["exception"]
    assert process.attributes is not None
    assert process.attributes["lcdev.consumer.outcome"] == "dead_lettered"
    actions = [s for s in ours if s.name == f"{consumer.name}.insert Seen"]
    assert len(actions) == 2  # one per attempt, each failed, each a child of the record's
    assert all(a.parent == process.context and a.status.status_code is StatusCode.ERROR
               for a in actions)
    lines = [orjson.loads(line) for line in event_log.getvalue().splitlines()]
    process_id = f"{process.context.span_id:016x}"
    retry = [line for line in lines if "retrying" in line["msg"]]
    dead = [line for line in lines if "dead-lettered" in line["msg"]]
    assert [line["level"] for line in retry] == ["warn"]
    assert "attempt 1 of 2" in retry[0]["msg"]
    assert [line["level"] for line in dead] == ["error"]
    assert all(line["trace_id"] == TRACE_ID and line["span_id"] == process_id
               for line in retry + dead)


def test_a_record_that_is_no_event_is_an_error_of_its_own_trace(
        spans: InMemorySpanExporter, event_log: io.StringIO, pg_dsn: str,
        kafka_bootstrap: str) -> None:
    producer, consumer = shop_pair()
    topic = producer.topic("OrderPlaced")

    async def never(*_: Any) -> None:
        raise AssertionError("no action runs for a bad record")

    async def scenario() -> None:
        async with service_db(pg_dsn, producer, consumer) as pools:
            client = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await client.start()
            try:
                await client.send_and_wait(topic, b"not json at all", partition=0)
            finally:
                await client.stop()
            consumers = EventConsumers(pools[consumer.name], consumer, kafka_bootstrap,
                                       never, producers=[producer])
            await consumers.start()
            try:
                await wait_until(lambda: _is(consumers.counts["dead_lettered"] == 1), 10,
                                 "the dead letter")
            finally:
                await consumers.stop()

    asyncio.run(scenario())
    [process] = [s for s in spans.get_finished_spans() if s.name == f"process {topic}"]
    assert process.parent is None  # no traceparent on the record: a trace of its own
    assert process.status.status_code is StatusCode.ERROR
    assert str(process.status.description).startswith("the record value is not JSON")
    [line] = [orjson.loads(text) for text in event_log.getvalue().splitlines()
              if "dead-lettered" in text]
    assert line["trace_id"] == f"{process.context.trace_id:032x}"


def test_a_replayed_record_adds_no_spans_to_the_trace_it_came_from(
        spans: InMemorySpanExporter, pg_dsn: str, kafka_bootstrap: str) -> None:
    """After a broker restart every retained row is published again; that is housekeeping,
    and must not stretch old traces to hours (nor trace every retained event again)."""
    producer, consumer = shop_pair()
    topic = producer.topic("OrderPlaced")

    async def scenario() -> None:
        async with service_db(pg_dsn, producer, consumer) as pools:
            relay = OutboxRelay(pools[producer.name], producer, kafka_bootstrap)
            async with pools[producer.name].acquire() as conn:
                await enqueue(conn, producer, "OrderPlaced",
                              {"order_id": uuid.uuid4(), "total": "13.00"},
                              headers={"traceparent": TRACEPARENT})
            await relay.start()
            try:
                await wait_until(lambda: _is(relay.published == 1), 10, "the first publish")
                assert await relay.replay_all(reason="a test") == 1
                await wait_until(lambda: _is(relay.published == 2), 10, "the re-publish")
            finally:
                await relay.stop()

    asyncio.run(scenario())
    publishes = [s for s in spans.get_finished_spans()
                 if s.name == f"publish {topic}" and s.context is not None
                 and f"{s.context.trace_id:032x}" == TRACE_ID]
    assert len(publishes) == 1
