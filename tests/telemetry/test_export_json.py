"""``OtlpJsonSpanExporter``: real SDK spans, encoded as OTLP/JSON, sent to real HTTP servers.

The encoding is checked against the OpenTelemetry exporter's own protobuf encoder: the JSON,
parsed by protobuf's JSON parser (the reference reading of OTLP/JSON, hex ids aside), must be
the very message the standard exporter would have sent.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as pb_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from lcdev.telemetry.export_json import OtlpJsonSpanExporter, encode_spans
from lcdev.telemetry.otlp.decode import decode_traces
from lcdev.telemetry.otlp.payload import _hex_ids_to_base64
from lcdev.telemetry.sink import MemorySink
from tests.telemetry.otlp_support import serving

REMOTE = SpanContext(trace_id=0x5B8EFFF798038103D269B633813FC60C, span_id=0xEEE19B7EC3C1B174,
                     is_remote=True, trace_flags=TraceFlags(1),
                     trace_state=TraceState([("vendor", "x")]))


def make_spans() -> list[ReadableSpan]:
    """Spans of every shape the gateway and runtime make, and a few they do not."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "orders",
                                                        "service.namespace": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("lcdev", "1.2.3", schema_url="https://opentelemetry.io/s/1")
    other = provider.get_tracer("other.lib")
    parent = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    with tracer.start_as_current_span("POST /orders/orders", context=parent, kind=SpanKind.SERVER,
                                      attributes={"http.request.method": "POST",
                                                  "http.response.status_code": 500}) as server:
        with tracer.start_as_current_span("INSERT order", kind=SpanKind.CLIENT, attributes={
            "db.system": "postgresql", "db.query.text": 'INSERT INTO "order" VALUES ($1)',
        }):
            pass
        with other.start_as_current_span("publish orders.placed", kind=SpanKind.PRODUCER,
                                         links=[Link(REMOTE.__class__(
                                             REMOTE.trace_id, 7, is_remote=False),
                                             {"why": "batch"})]):
            pass
        server.set_attributes({"ratio": 0.25, "ok": False, "tags": ("a", "b"),
                               "counts": [1, 2, 3], "flags": [True, False],
                               "big": 2**62, "negative": -5, "nan": float("nan")})
        server.record_exception(ValueError("bad input"))
        server.add_event("retry", {"attempt": 2})
        server.set_status(Status(StatusCode.ERROR, "boom"))
    with tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER) as consumer:
        consumer.set_status(Status(StatusCode.OK))
    with other.start_as_current_span("internal work"):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def request_spans(count: int) -> list[ReadableSpan]:
    """What the runtime makes per request: a server span and its SQL span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("lcdev")
    server: dict[str, Any] = {"http.request.method": "GET", "url.path": "/items/items/1",
              "http.route": "/items/items/{id}", "http.response.status_code": 200}
    sql = {"db.system": "postgresql", "db.operation.name": "SELECT",
           "db.query.text": 'SELECT * FROM items."item" WHERE id = $1',
           "db.collection.name": "item"}
    for _ in range(count // 2):
        with (tracer.start_as_current_span("GET /items/items/{id}", kind=SpanKind.SERVER,
                                           attributes=server),
              tracer.start_as_current_span("SELECT item", kind=SpanKind.CLIENT,
                                           attributes=sql)):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def reference(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    """What the standard exporter sends, with an unset status left out (as JSON may)."""
    request = pb_encode(spans)
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if span.status.code == 0 and not span.status.message:
                    span.ClearField("status")
    return request


def test_the_json_is_the_standard_exporters_request() -> None:
    spans = make_spans()
    document = orjson.loads(encode_spans(spans))
    _hex_ids_to_base64(document)  # OTLP/JSON writes ids in hex; protobuf's mapping in base64
    parsed = json_format.ParseDict(document, ExportTraceServiceRequest())
    expected = reference(spans)
    expected_nan = [kv for rs in expected.resource_spans for ss in rs.scope_spans
                    for span in ss.spans for kv in span.attributes if kv.key == "nan"]
    assert [kv.value.double_value for kv in expected_nan] != [0.0]  # NaN made it through
    for request in (parsed, expected):  # NaN != NaN: compare everything else
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    kept = [kv for kv in span.attributes if kv.key != "nan"]
                    del span.attributes[:]
                    span.attributes.extend(kept)
    assert json_format.MessageToDict(parsed) == json_format.MessageToDict(expected)
    assert parsed == expected


def test_the_json_follows_the_otlp_json_encoding() -> None:
    document = orjson.loads(encode_spans(make_spans()))
    [resource_spans] = document["resourceSpans"]
    assert {"key": "service.name", "value": {"stringValue": "orders"}} in (
        resource_spans["resource"]["attributes"])
    scopes = {group["scope"]["name"]: group for group in resource_spans["scopeSpans"]}
    assert scopes["lcdev"]["scope"]["version"] == "1.2.3"
    assert scopes["lcdev"]["schemaUrl"] == "https://opentelemetry.io/s/1"
    server = next(span for span in scopes["lcdev"]["spans"] if span["kind"] == 2)
    assert server["traceId"] == "5b8efff798038103d269b633813fc60c"  # lower-case hex
    assert server["parentSpanId"] == "eee19b7ec3c1b174"
    assert len(server["spanId"]) == 16
    assert isinstance(server["startTimeUnixNano"], str)  # int64 as a decimal string
    assert int(server["endTimeUnixNano"]) >= int(server["startTimeUnixNano"]) > 0
    assert server["status"] == {"code": 2, "message": "boom"}  # enums as integers
    attributes = {kv["key"]: kv["value"] for kv in server["attributes"]}
    assert attributes["http.response.status_code"] == {"intValue": "500"}
    assert attributes["big"] == {"intValue": str(2**62)}
    assert attributes["ok"] == {"boolValue": False}
    assert attributes["nan"] == {"doubleValue": "NaN"}
    assert attributes["tags"] == {"arrayValue": {"values": [{"stringValue": "a"},
                                                            {"stringValue": "b"}]}}
    assert [event["name"] for event in server["events"]] == ["exception", "retry"]


def test_spans_reach_lcdevs_receiver_with_every_field() -> None:
    spans = make_spans()
    sink = MemorySink()
    with serving(sink) as receiver:
        exporter = OtlpJsonSpanExporter(receiver.endpoint)
        assert exporter.export(spans[:3]) is SpanExportResult.SUCCESS
        assert exporter.export(spans[3:]) is SpanExportResult.SUCCESS  # same connection
        exporter.shutdown()
        assert exporter.export(spans) is SpanExportResult.FAILURE  # stopped: nothing sent
        assert sink.wait_for(lambda s: len(s.spans) == len(spans), timeout=5)
    protobuf_records = decode_traces(reference(spans).SerializeToString(),
                                     "application/x-protobuf")
    received = {span.span_id: span for span in sink.spans}
    for expected in protobuf_records:
        got = received[expected.span_id]
        if "nan" in expected.attributes:
            assert got.attributes["nan"] != got.attributes["nan"]
            got = _without_nan(got)
            expected = _without_nan(expected)
        assert got == expected


def _without_nan(record: Any) -> Any:
    import dataclasses

    return dataclasses.replace(record, attributes={k: v for k, v in record.attributes.items()
                                                   if k != "nan"})


class Collector:
    """An HTTP/1.1 endpoint that counts connections and requests; can drop idle connections
    (as uvicorn does after its keep-alive timeout) or answer with a given status."""

    def __init__(self, status: int = 200, close_after_answer: bool = False) -> None:
        self.bodies: list[bytes] = []
        self.connections = 0
        self.content_types: list[str] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                collector.connections += 1

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["content-length"]))
                collector.bodies.append(body)
                collector.paths.append(self.path)
                collector.content_types.append(self.headers["content-type"])
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.wfile.flush()
                if close_after_answer:  # silently, without "Connection: close"
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def spans() -> list[ReadableSpan]:
    return make_spans()


def test_exports_share_one_kept_alive_connection(spans: list[ReadableSpan]) -> None:
    collector = Collector()
    try:
        exporter = OtlpJsonSpanExporter(collector.url)
        for _ in range(5):
            assert exporter.export(spans) is SpanExportResult.SUCCESS
        assert collector.connections == 1
        assert collector.content_types == ["application/json"] * 5
        assert len(orjson.loads(collector.bodies[0])["resourceSpans"]) == 1
        exporter.shutdown()
    finally:
        collector.close()


def test_a_connection_the_receiver_closed_while_idle_is_reopened(
    spans: list[ReadableSpan],
) -> None:
    collector = Collector(close_after_answer=True)
    try:
        exporter = OtlpJsonSpanExporter(collector.url)
        for _ in range(3):
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            time.sleep(0.05)  # the server has closed its end by now
        assert len(collector.bodies) == 3
        assert collector.connections == 3
        exporter.shutdown()
    finally:
        collector.close()


@pytest.mark.parametrize("status", [400, 500, 503])
def test_a_refusal_is_a_failure_logged_not_raised(
    status: int, spans: list[ReadableSpan], caplog: pytest.LogCaptureFixture,
) -> None:
    collector = Collector(status=status)
    try:
        exporter = OtlpJsonSpanExporter(collector.url)
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert len(collector.bodies) == 1  # no retry storm against a refusing receiver
        assert f"{status}" in caplog.text
        exporter.shutdown()
    finally:
        collector.close()


def test_an_unreachable_receiver_fails_fast(spans: list[ReadableSpan]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening
    exporter = OtlpJsonSpanExporter(url)
    started = time.monotonic()
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert time.monotonic() - started < 1.0


def test_shutdown_unblocks_an_export_stuck_on_a_silent_receiver(
    spans: list[ReadableSpan],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        exporter = OtlpJsonSpanExporter(f"http://127.0.0.1:{silent.getsockname()[1]}",
                                        timeout_s=30)
        results: list[SpanExportResult] = []
        worker = threading.Thread(target=lambda: results.append(exporter.export(spans)))
        worker.start()
        time.sleep(0.2)
        started = time.monotonic()
        exporter.shutdown()
        worker.join(5)
        assert not worker.is_alive()
        assert time.monotonic() - started < 1.0
        assert results == [SpanExportResult.FAILURE]


def test_the_timeout_bounds_an_export(spans: list[ReadableSpan]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        exporter = OtlpJsonSpanExporter(f"http://127.0.0.1:{silent.getsockname()[1]}",
                                        timeout_s=0.3)
        started = time.monotonic()
        assert exporter.export(spans) is SpanExportResult.FAILURE
        assert time.monotonic() - started < 1.5


def test_the_endpoint_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/")
    assert OtlpJsonSpanExporter().url == "http://127.0.0.1:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:9/custom")
    assert OtlpJsonSpanExporter().url == "http://collector:9/custom"
    assert OtlpJsonSpanExporter("http://h:1").url == "http://h:1/v1/traces"
    with pytest.raises(ValueError, match="not an http"):
        OtlpJsonSpanExporter("ftp://h:1")
