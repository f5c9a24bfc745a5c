"""Spans of real services (in this process, on real PostgreSQL and Kafka): one trace from the
HTTP request through SQL, the outbox, the relay's publish, the other service's consume and its
action; the caller's traceparent is honoured; a 5xx is an error with its exception, a 4xx not."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lcdev.runtime.observability.logs import JsonLogFormatter
from tests.runtime.telemetry.workspace import (
    PARENT_ID,
    TRACE_ID,
    TRACEPARENT,
    running,
    wait_for,
)


def _hex(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def _parent(span: ReadableSpan) -> str:
    return f"{span.parent.span_id:016x}" if span.parent is not None else ""


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {sorted(s.name for s in spans)}"
    return found[0]


async def _spans_until(exporter: InMemorySpanExporter,
                       done: Callable[[Sequence[ReadableSpan]], bool],
                       timeout: float = 10.0) -> Sequence[ReadableSpan]:
    deadline = time.monotonic() + timeout
    while True:
        spans = exporter.get_finished_spans()
        if done(spans):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"spans so far: {sorted(s.name for s in spans)}")
        await asyncio.sleep(0.02)


def test_one_trace_runs_from_the_request_to_the_other_services_action(
        spans: InMemorySpanExporter, pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, pg_dsn, kafka_bootstrap) as rt:
            producer, consumer = rt.names.producer, rt.names.consumer
            topic = rt.producer.service.topic("OrderPlaced")
            response = await rt.client.post(f"/{producer}/orders", json={"total": "12.50"},
                                            headers={"traceparent": TRACEPARENT,
                                                     "tracestate": "lc=1"})
            assert response.status_code == 201
            order_id = response.json()["id"]
            await wait_for(f"SELECT count(*) FROM \"{consumer}\".seen"
                           f" WHERE order_id = '{order_id}'", pg_dsn)
            mine = await _spans_until(spans, lambda found: any(  # the span that ends last
                s.name == f"process {topic}" for s in found))
        ours = [s for s in mine if _hex(s)[0] == TRACE_ID]

        server = _one(ours, f"POST /{producer}/orders")
        assert server.kind is SpanKind.SERVER
        assert _parent(server) == PARENT_ID  # the caller's span (the gateway's)
        assert server.attributes is not None
        assert server.attributes["http.route"] == f"/{producer}/orders"
        assert server.attributes["http.request.method"] == "POST"
        assert server.attributes["http.response.status_code"] == 201
        assert server.status.status_code is StatusCode.UNSET
        server_id = _hex(server)[1]

        insert = _one(ours, "INSERT order")
        assert insert.kind is SpanKind.CLIENT
        assert _parent(insert) == server_id
        assert insert.attributes is not None
        assert insert.attributes["db.system"] == "postgresql"
        assert insert.attributes["db.collection.name"] == "order"
        query = str(insert.attributes["db.query.text"])
        assert query.startswith(f'INSERT INTO "{producer}"."order"')
        assert "12.50" not in query  # values are parameters, never recorded

        outbox = _one(ours, f"outbox {topic}")
        assert _parent(outbox) == server_id
        assert outbox.attributes is not None
        assert outbox.attributes["messaging.destination.name"] == topic
        outbox_insert = _one(ours, "INSERT lcdev_outbox")
        assert _parent(outbox_insert) == _hex(outbox)[1]

        publish = _one(ours, f"publish {topic}")
        assert publish.kind is SpanKind.PRODUCER
        assert _parent(publish) == _hex(outbox)[1]  # from the headers stored with the row
        assert publish.attributes is not None
        assert publish.attributes["messaging.system"] == "kafka"
        assert isinstance(publish.attributes["messaging.kafka.offset"], int)

        process = _one(ours, f"process {topic}")
        assert process.kind is SpanKind.CONSUMER
        assert _parent(process) == _hex(publish)[1]  # the record's traceparent: publish span
        assert process.attributes is not None
        assert process.attributes["messaging.kafka.offset"] == \
            publish.attributes["messaging.kafka.offset"]
        assert process.attributes["lcdev.consumer.outcome"] == "applied"
        assert process.get_span_context().trace_state.get("lc") == "1"  # tracestate travels

        action = _one(ours, f"{consumer}.insert Seen")
        assert _parent(action) == _hex(process)[1]
        seen_insert = _one(ours, "INSERT seen")
        assert _parent(seen_insert) == _hex(action)[1]
        call = _one(ours, f"{consumer}.remember")  # the handler the second entry calls
        assert _parent(call) == _hex(process)[1]
        assert _parent(_one(ours, "INSERT memo")) == _hex(call)[1]
        claim = _one(ours, "INSERT lcdev_processed_events")
        assert _parent(claim) == _hex(process)[1]
        assert _one(ours, "INSERT lcdev_consumer_offsets").parent == process.context
        # Transaction control and the pool's reset on release make no spans.
        assert not [s for s in ours if s.name.split()[0] in ("BEGIN", "COMMIT")]

    asyncio.run(scenario())


def test_a_request_without_traceparent_starts_a_trace_and_4xx_is_not_an_error(
        spans: InMemorySpanExporter, pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, pg_dsn, kafka_bootstrap, with_consumer=False) as rt:
            producer = rt.names.producer
            # In-process (ASGI) the app runs in this task: a span current here is still not
            # the parent of a request that came without traceparent.
            with trace.get_tracer("test").start_as_current_span("caller"):
                missing = await rt.client.get(
                    f"/{producer}/orders/0192f0c4-8e2b-7cc1-9d1c-3a4b5c6d7e8f")
                invalid = await rt.client.post(f"/{producer}/orders", json={"total": "lots"})
                unknown = await rt.client.get(f"/{producer}/nothing-here")
                health = await rt.client.get(f"/{producer}/_lcdev/health")
        assert (missing.status_code, invalid.status_code, unknown.status_code) == (404, 422, 404)
        assert health.status_code == 200  # the supervisor's probe: served, never traced
        servers = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
        by_name = {s.name: s for s in servers}
        get = by_name[f"GET /{producer}/orders/{{id}}"]
        assert get.parent is None
        assert get.attributes is not None
        assert get.attributes["http.route"] == f"/{producer}/orders/{{id}}"
        assert get.attributes["http.response.status_code"] == 404
        assert by_name[f"POST /{producer}/orders"].attributes["http.response.status_code"] == 422
        assert len(servers) == 3
        unmatched = by_name["GET"]  # no route served it: no template to name it by
        assert unmatched.attributes is not None
        assert "http.route" not in unmatched.attributes
        assert all(s.status.status_code is StatusCode.UNSET for s in servers)
        fetch = _one(spans.get_finished_spans(), "SELECT order")
        assert fetch.parent == get.context

    asyncio.run(scenario())


def test_a_5xx_is_an_error_with_its_exception_and_a_json_log_line_of_the_trace(
        spans: InMemorySpanExporter, pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonLogFormatter("the-service"))
    logger = logging.getLogger("lcdev.runtime.http")
    logger.addHandler(handler)

    async def scenario() -> None:
        async with running(tmp_path, pg_dsn, kafka_bootstrap, with_consumer=False) as rt:
            response = await rt.client.post(f"/{rt.names.producer}/boom", json={},
                                            headers={"traceparent": TRACEPARENT})
            assert response.status_code == 500
            assert "kaboom" not in response.text  # the details stay in the log
            server = _one(spans.get_finished_spans(), f"POST /{rt.names.producer}/boom")
        assert server.status.status_code is StatusCode.ERROR
        assert server.status.description == "RuntimeError: kaboom: the handler failed"
        [event] = [e for e in server.events if e.name == "exception"]
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "RuntimeError"
        assert event.attributes["exception.message"] == "kaboom: the handler failed"
        [line] = [orjson.loads(text) for text in lines.getvalue().splitlines()]
        assert line["level"] == "error"
        assert line["service"] == "the-service"
        assert line["trace_id"] == TRACE_ID
        assert line["span_id"] == _hex(server)[1]
        assert "RuntimeError: kaboom" in line["msg"]  # with its traceback

    try:
        asyncio.run(scenario())
    finally:
        logger.removeHandler(handler)
