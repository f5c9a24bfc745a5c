"""Decoding OTLP export requests into records: protobuf, OTLP JSON, gzip, and bad input."""

from __future__ import annotations

import gzip
import random
import time
from typing import Any

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValueList

from lcdev.telemetry.otlp.decode import (
    OtlpDecodeError,
    PayloadTooLarge,
    UnsupportedMediaType,
    decode_logs,
    decode_metrics,
    decode_payload,
    decode_traces,
)
from tests.telemetry.otlp_support import span_body, span_request

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# The examples of the OTLP specification (opentelemetry-proto/examples/*.json), ids in
# upper-case hex as written there.
TRACE_ID = "5B8EFFF798038103D269B633813FC60C"
SPAN_ID = "EEE19B7EC3C1B174"
RESOURCE = {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]}
SCOPE = {"name": "my.library", "version": "1.0.0"}
SPEC_TRACES = {"resourceSpans": [{"resource": RESOURCE, "scopeSpans": [{"scope": SCOPE, "spans": [{
    "traceId": TRACE_ID, "spanId": SPAN_ID, "parentSpanId": "EEE19B7EC3C1B173",
    "name": "I'm a server span", "startTimeUnixNano": "1544712660000000000",
    "endTimeUnixNano": "1544712661000000000", "kind": 2,
    "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}],
}]}]}]}
SPEC_LOGS = {"resourceLogs": [{"resource": RESOURCE, "scopeLogs": [{"scope": SCOPE, "logRecords": [{
    "timeUnixNano": "1544712660300000000", "observedTimeUnixNano": "1544712660300000000",
    "severityNumber": 10, "severityText": "Information", "traceId": TRACE_ID,
    "spanId": SPAN_ID, "body": {"stringValue": "Example log record"},
    "attributes": [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": True}},
        {"key": "int.attribute", "value": {"intValue": "10"}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [
            {"stringValue": "many"}, {"stringValue": "values"}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [
            {"key": "some.map.key", "value": {"stringValue": "some value"}}]}}},
    ],
}]}]}]}
SPEC_METRICS = {"resourceMetrics": [{"resource": RESOURCE, "scopeMetrics": [{"scope": SCOPE,
                                                                           "metrics": [
    {"name": "my.counter", "unit": "1", "sum": {"aggregationTemporality": 1, "isMonotonic": True,
     "dataPoints": [{"asDouble": 5, "startTimeUnixNano": "1544712660300000000",
                     "timeUnixNano": "1544712660300000000",
                     "attributes": [{"key": "my.counter.attr",
                                     "value": {"stringValue": "some value"}}]}]}},
    {"name": "my.gauge", "unit": "1", "gauge": {"dataPoints": [
        {"asInt": "10", "timeUnixNano": "1544712660300000000"}]}},
    {"name": "my.histogram", "unit": "1", "histogram": {"aggregationTemporality": 1,
     "dataPoints": [{"startTimeUnixNano": "1544712660300000000",
                     "timeUnixNano": "1544712660300000000", "count": "2", "sum": 2,
                     "bucketCounts": ["1", "1"], "explicitBounds": [1], "min": 0, "max": 2}]}},
    {"name": "my.exponential.histogram", "unit": "1", "exponentialHistogram": {
        "aggregationTemporality": 1, "dataPoints": [{
            "timeUnixNano": "1544712660300000000", "count": "3", "sum": 10, "scale": 0,
            "zeroCount": "1", "positive": {"offset": 1, "bucketCounts": ["0", "2"]}}]}},
    {"name": "my.summary", "summary": {"dataPoints": [{
        "timeUnixNano": "1544712660300000000", "count": "4", "sum": 12.5,
        "quantileValues": [{"quantile": 0.5, "value": 3}]}]}},
]}]}]}


def as_json(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)


def test_protobuf_spans_become_records_with_hex_ids_and_literal_names() -> None:
    request = span_request(["GET /orders/{id}"], service="orders", attributes={
        "s": "x", "i": 7, "f": 1.5, "b": True, "raw": b"\x00\xff",
    })
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.parent_span_id = bytes.fromhex("00000000000000ab")
    span.kind = 3
    span.status.code = 2
    span.status.message = "boom"
    span.attributes.add(key="list", value=AnyValue(array_value=ArrayValue(
        values=[AnyValue(int_value=1), AnyValue(string_value="two")])))
    span.attributes.add(key="map", value=AnyValue(kvlist_value=KeyValueList(values=[
        request.resource_spans[0].resource.attributes[0]])))
    span.attributes.add(key="empty", value=AnyValue())
    event = span.events.add(name="exception", time_unix_nano=42)
    for key, text in (("exception.type", "ValueError"), ("exception.message", "bad"),
                      ("exception.stacktrace", "Traceback ...")):
        event.attributes.add(key=key, value=AnyValue(string_value=text))

    [record] = decode_traces(request.SerializeToString(), PROTOBUF)

    assert record.trace_id == span.trace_id.hex()
    assert len(record.trace_id) == 32
    assert record.span_id == span.span_id.hex()
    assert record.parent_span_id == "00000000000000ab"
    assert (record.service, record.name, record.kind) == ("orders", "GET /orders/{id}", "client")
    assert (record.status, record.status_message) == ("error", "boom")
    assert record.duration_ns == 1_000_000
    assert record.attributes == {
        "s": "x", "i": 7, "f": 1.5, "b": True, "raw": "AP8=", "list": [1, "two"],
        "map": {"service.name": "orders"}, "empty": None,
    }
    [exception] = record.events
    assert (exception.name, exception.time_ns) == ("exception", 42)
    assert exception.attributes == {"exception.type": "ValueError", "exception.message": "bad",
                                    "exception.stacktrace": "Traceback ..."}


@pytest.mark.parametrize(("kind", "expected"), [
    (0, "internal"), (1, "internal"), (2, "server"), (3, "client"), (4, "producer"),
    (5, "consumer"), (99, "internal"),
])
def test_span_kinds(kind: int, expected: str) -> None:
    request = span_request(["x"])
    request.resource_spans[0].scope_spans[0].spans[0].kind = kind
    [record] = decode_traces(request.SerializeToString(), PROTOBUF)
    assert record.kind == expected


def test_a_resource_without_service_name_is_unknown_service() -> None:
    request = span_request(["x"])
    del request.resource_spans[0].resource.attributes[:]
    [record] = decode_traces(request.SerializeToString(), PROTOBUF)
    assert record.service == "unknown_service"
    assert record.parent_span_id == ""
    assert record.status == "unset"


def test_spec_trace_json_with_hex_ids() -> None:
    [record] = decode_traces(as_json(SPEC_TRACES), "application/json; charset=utf-8")
    assert record.trace_id == TRACE_ID.lower()
    assert record.span_id == SPAN_ID.lower()
    assert record.parent_span_id == "eee19b7ec3c1b173"
    assert (record.service, record.kind, record.name) == ("my.service", "server",
                                                          "I'm a server span")
    assert (record.start_ns, record.end_ns) == (1544712660000000000, 1544712661000000000)
    assert record.attributes == {"my.span.attr": "some value"}


def test_json_accepts_snake_case_enum_names_and_base64_ids() -> None:
    document = {"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": "W47/95gDgQPSabYzgT/GDA==", "span_id": "7uGbfsPBsXQ=",
        "name": "consume", "kind": "SPAN_KIND_CONSUMER",
        "start_time_unix_nano": 5, "end_time_unix_nano": 9,
        "status": {"code": "STATUS_CODE_OK"}, "unknownField": 1,
    }]}]}]}
    [record] = decode_traces(as_json(document), JSON)
    assert (record.trace_id, record.span_id) == (TRACE_ID.lower(), SPAN_ID.lower())
    assert (record.kind, record.status, record.service) == ("consumer", "ok", "unknown_service")


def test_spec_logs_json() -> None:
    [record] = decode_logs(as_json(SPEC_LOGS), JSON)
    assert (record.level, record.message, record.stream) == ("info", "Example log record", "otlp")
    assert (record.trace_id, record.span_id) == (TRACE_ID.lower(), SPAN_ID.lower())
    assert (record.service, record.time_ns) == ("my.service", 1544712660300000000)
    assert record.attributes == {
        "string.attribute": "some string", "boolean.attribute": True, "int.attribute": 10,
        "double.attribute": 637.704, "array.attribute": ["many", "values"],
        "map.attribute": {"some.map.key": "some value"},
    }


@pytest.mark.parametrize(("number", "text", "level"), [
    (1, "", "trace"), (4, "", "trace"), (5, "", "debug"), (9, "", "info"), (12, "", "info"),
    (13, "", "warn"), (17, "ERROR", "error"), (20, "", "error"), (21, "", "fatal"),
    (24, "", "fatal"), (0, "WARNING", "warn"), (0, "Error", "error"), (0, "CRITICAL", "fatal"),
    (0, "warn2", "warn"), (0, "", "info"), (0, "chatty", "info"), (99, "debug", "debug"),
])
def test_log_levels(number: int, text: str, level: str) -> None:
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(
        severity_number=number, severity_text=text, time_unix_nano=1)
    [record] = decode_logs(request.SerializeToString(), PROTOBUF)
    assert record.level == level


def test_log_bodies_that_are_not_strings_are_json_and_times_fall_back() -> None:
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    records.add(observed_time_unix_nano=77, body=AnyValue(kvlist_value=KeyValueList(values=[
        span_request(["x"]).resource_spans[0].resource.attributes[0]])))
    records.add(time_unix_nano=5, observed_time_unix_nano=6, body=AnyValue(int_value=3))
    records.add()
    before = time.time_ns()
    first, second, third = decode_logs(request.SerializeToString(), PROTOBUF)
    assert (first.message, first.time_ns) == ('{"service.name":"orders"}', 77)
    assert (second.message, second.time_ns) == ("3", 5)
    assert third.message == ""
    assert third.time_ns >= before
    assert third.trace_id == ""
    assert third.span_id == ""


def test_spec_metrics_json_every_kind() -> None:
    points = {point.name: point for point in decode_metrics(as_json(SPEC_METRICS), JSON)}
    counter = points["my.counter"]
    assert (counter.kind, counter.value, counter.unit) == ("sum", 5.0, "1")
    assert counter.attributes == {"my.counter.attr": "some value"}
    assert counter.time_ns == 1544712660300000000
    assert counter.service == "my.service"
    assert (points["my.gauge"].kind, points["my.gauge"].value) == ("gauge", 10.0)
    for name, value, count in (("my.histogram", 2.0, 2), ("my.exponential.histogram", 10.0, 3),
                               ("my.summary", 12.5, 4)):
        assert (points[name].kind, points[name].value, points[name].count) == (
            "histogram", value, count), name


def test_gzip_bodies() -> None:
    body = span_body(["a", "b"])
    spans = decode_traces(gzip.compress(body), PROTOBUF, "gzip")
    assert [span.name for span in spans] == ["a", "b"]
    [record] = decode_traces(gzip.compress(as_json(SPEC_TRACES)), JSON, "gzip")
    assert record.trace_id == TRACE_ID.lower()


@pytest.mark.parametrize(("body", "content_type", "encoding", "reason"), [
    (b"\x0a\xff\x01", PROTOBUF, None, "invalid OTLP protobuf"),
    (b"{not json", JSON, None, "invalid JSON"),
    (b"[1, 2]", JSON, None, "must be an object"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', JSON, None,
     "traceId 'zz' is not 32 hex digits"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "%s"}]}]}]}' % TRACE_ID.encode(),
     JSON, None, "spanId '5B8E.* is not 16 hex digits"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
     JSON, None, "invalid OTLP JSON"),
    (b'{"resourceSpans": {"oops": 1}}', JSON, None, "invalid OTLP JSON"),
    (b"not gzip at all", PROTOBUF, "gzip", "invalid gzip"),
    (gzip.compress(b"x" * 100)[:20], PROTOBUF, "gzip", "truncated"),
])
def test_malformed_payloads_raise_with_a_reason(
    body: bytes, content_type: str, encoding: str | None, reason: str
) -> None:
    with pytest.raises(OtlpDecodeError, match=reason):
        decode_traces(body, content_type, encoding)


def test_unsupported_types_and_encodings_and_bombs() -> None:
    with pytest.raises(UnsupportedMediaType, match="text/plain"):
        decode_traces(b"", "text/plain")
    with pytest.raises(UnsupportedMediaType, match="br"):
        decode_traces(b"", PROTOBUF, "br")
    with pytest.raises(PayloadTooLarge, match="decompressed"):
        decode_payload("traces", gzip.compress(b"\0" * 2_000_000), PROTOBUF, "gzip",
                       max_bytes=1_000_000)


def test_payload_gives_protobuf_for_forwarding() -> None:
    decoded = decode_payload("traces", as_json(SPEC_TRACES), JSON, want_protobuf=True)
    assert decoded.protobuf is not None
    [again] = decode_traces(decoded.protobuf, PROTOBUF)
    assert again == decoded.records[0]
    body = span_body(["a"])
    assert decode_payload("traces", gzip.compress(body), PROTOBUF, "gzip",
                          want_protobuf=True).protobuf == body


def test_random_corruptions_only_ever_raise_otlp_decode_error() -> None:
    rng = random.Random(4318)
    samples = [span_body(["a", "b"]), as_json(SPEC_TRACES), as_json(SPEC_LOGS),
               as_json(SPEC_METRICS)]
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(600):
        body = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        content_type = JSON if body[:1] == b"{" else PROTOBUF
        for decode in (decode_traces, decode_logs, decode_metrics):
            try:
                decode(bytes(body), content_type)
                outcomes["decoded"] += 1
            except OtlpDecodeError:
                outcomes["refused"] += 1
    assert outcomes["decoded"] > 0
    assert outcomes["refused"] > 0
