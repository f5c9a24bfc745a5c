"""The OTLP/JSON fast path (traces and logs without protobuf's ``json_format``).

The reference is the protobuf path: the same document decoded with ``want_protobuf=True``
goes through ``json_format`` and a protobuf message, so every case below checks that both
readings give the same records — in every spelling OTLP/JSON allows.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import random
import time
from typing import Any

import orjson
import pytest
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from lcdev.telemetry.otlp.decode import (
    OtlpDecodeError,
    decode_logs,
    decode_payload,
    decode_traces,
)
from lcdev.telemetry.records import SpanRecord
from tests.telemetry.otlp_support import span_request
from tests.telemetry.test_export_json import make_spans

JSON = "application/json"
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def both(signal: Any, document: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(fast path records, json_format path records) of one document."""
    body = orjson.dumps(document)
    fast = decode_payload(signal, body, JSON)
    reference = decode_payload(signal, body, JSON, want_protobuf=True)
    assert fast.protobuf is None
    assert reference.protobuf is not None
    return list(fast.records), list(reference.records)


def without_nan(record: SpanRecord) -> SpanRecord:
    attributes = {k: v for k, v in record.attributes.items()
                  if not (isinstance(v, float) and math.isnan(v))}
    return dataclasses.replace(record, attributes=attributes)


def rich_span(**overrides: Any) -> dict[str, Any]:
    span = {
        "traceId": TRACE_ID.upper(), "spanId": SPAN_ID, "parentSpanId": "00000000000000ab",
        "name": "GET /orders/{id}", "kind": 2, "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000, "traceState": "a=b", "flags": 256,
        "attributes": [
            {"key": "s", "value": {"stringValue": "x"}},
            {"key": "i", "value": {"intValue": "-7"}},
            {"key": "n", "value": {"intValue": 9007199254740993}},
            {"key": "f", "value": {"doubleValue": 1.5}},
            {"key": "whole", "value": {"doubleValue": 2}},
            {"key": "inf", "value": {"doubleValue": "-Infinity"}},
            {"key": "b", "value": {"boolValue": False}},
            {"key": "raw", "value": {"bytesValue": "AP8="}},
            {"key": "list", "value": {"arrayValue": {"values": [
                {"intValue": "1"}, {"stringValue": "two"}, {"arrayValue": {}}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [
                {"key": "k", "value": {"boolValue": True}}, {"key": "e", "value": {}}]}}},
            {"key": "empty", "value": {}},
            {"key": "s", "value": {"stringValue": "later wins"}},
        ],
        "events": [{"timeUnixNano": "42", "name": "exception", "attributes": [
            {"key": "exception.type", "value": {"stringValue": "ValueError"}}]},
            {"name": "bare"}],
        "links": [{"traceId": TRACE_ID, "spanId": SPAN_ID}],
        "status": {"code": 2, "message": "boom"},
        "droppedAttributesCount": 3, "someFutureField": {"x": [1]},
    }
    span.update(overrides)
    return span


def traces(*spans: dict[str, Any], service: str | None = "orders") -> dict[str, Any]:
    resource = ({"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
                if service is not None else {})
    return {"resourceSpans": [{"resource": resource, "schemaUrl": "https://x", "scopeSpans": [
        {"scope": {"name": "lcdev", "version": "1"}, "spans": list(spans)}]}]}


def test_a_rich_span_decodes_as_the_protobuf_path_does() -> None:
    fast, reference = both("traces", traces(rich_span()))
    assert fast == reference
    [record] = fast
    assert (record.trace_id, record.span_id, record.parent_span_id) == (
        TRACE_ID, SPAN_ID, "00000000000000ab")
    assert (record.kind, record.status, record.status_message) == ("server", "error", "boom")
    assert (record.start_ns, record.end_ns) == (1544712660000000000, 1544712661000000000)
    assert record.attributes == {
        "s": "later wins", "i": -7, "n": 9007199254740993, "f": 1.5, "whole": 2.0,
        "inf": -math.inf, "b": False, "raw": "AP8=", "list": [1, "two", []],
        "map": {"k": True, "e": None}, "empty": None,
    }
    assert [(event.name, event.time_ns) for event in record.events] == [
        ("exception", 42), ("bare", 0)]


def test_snake_case_names_enum_names_base64_ids_and_nulls() -> None:
    document = {"resource_spans": [{"resource": None, "scope_spans": [{"spans": [
        {"trace_id": base64.b64encode(bytes.fromhex(TRACE_ID)).decode(),
         "span_id": base64.b64encode(bytes.fromhex(SPAN_ID)).decode(),
         "parent_span_id": None, "name": "consume", "kind": "SPAN_KIND_CONSUMER",
         "start_time_unix_nano": "5", "end_time_unix_nano": 9.0,
         "status": {"code": "STATUS_CODE_OK", "message": None},
         "attributes": [{"key": "k", "value": {"string_value": "v"}},
                        {"key": "j", "value": {"int_value": 3}},
                        {"key": "l", "value": {"array_value": {"values": [
                            {"bool_value": True}]}}},
                        {"key": "m", "value": {"kvlist_value": {"values": []}}},
                        {"key": "d", "value": {"double_value": "NaN"}}],
         "events": None},
    ]}]}]}
    fast, reference = both("traces", document)
    [record] = fast
    assert math.isnan(record.attributes["d"])
    assert math.isnan(reference[0].attributes["d"])
    assert (record.trace_id, record.span_id, record.parent_span_id) == (TRACE_ID, SPAN_ID, "")
    assert (record.kind, record.status, record.service) == ("consumer", "ok", "unknown_service")
    assert (record.start_ns, record.end_ns) == (5, 9)
    assert {k: v for k, v in record.attributes.items() if k != "d"} == {
        "k": "v", "j": 3, "l": [True], "m": {}}
    assert [without_nan(r) for r in fast] == [without_nan(r) for r in reference]


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4, 5, 99, "SPAN_KIND_INTERNAL",
                                  "SPAN_KIND_SERVER", "SPAN_KIND_UNSPECIFIED"])
@pytest.mark.parametrize("code", [0, 1, 2, 7, "STATUS_CODE_ERROR", "STATUS_CODE_UNSET"])
def test_every_kind_and_status(kind: Any, code: Any) -> None:
    fast, reference = both("traces", traces(rich_span(kind=kind, status={"code": code})))
    assert fast == reference


def test_several_resources_and_scopes_keep_their_services() -> None:
    document = traces(rich_span(name="a"), rich_span(name="b"))
    document["resourceSpans"] += traces(rich_span(name="c"), service="")["resourceSpans"]
    document["resourceSpans"] += traces(rich_span(name="d"), service=None)["resourceSpans"]
    document["resourceSpans"].append({"scopeSpans": [{}, {"spans": []}]})
    fast, reference = both("traces", document)
    assert fast == reference
    assert [(r.name, r.service) for r in fast] == [
        ("a", "orders"), ("b", "orders"), ("c", "unknown_service"), ("d", "unknown_service")]


def test_what_lcdevs_exporter_sends_decodes_like_its_protobuf() -> None:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from lcdev.telemetry.export_json import encode_spans as encode_json

    spans = make_spans()
    fast = decode_traces(encode_json(spans), JSON)
    reference = decode_traces(encode_spans(spans).SerializeToString(), "application/x-protobuf")
    strip = [{k: v for k, v in r.attributes.items() if k != "nan"} for r in fast + reference]
    assert strip[:len(fast)] == strip[len(fast):]
    assert [r.span_id for r in fast] == [r.span_id for r in reference]


def log_document(*records: dict[str, Any]) -> dict[str, Any]:
    return {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "orders"}}]},
        "scopeLogs": [{"scope": {"name": "x"}, "logRecords": list(records)}]}]}


@pytest.mark.parametrize("record", [
    {"timeUnixNano": "1544712660300000000", "severityNumber": 10, "severityText": "Info",
     "traceId": TRACE_ID, "spanId": SPAN_ID, "body": {"stringValue": "hello"},
     "attributes": [{"key": "a", "value": {"intValue": "10"}}], "eventName": "order.placed"},
    {"observedTimeUnixNano": 77, "severityNumber": "SEVERITY_NUMBER_WARN3",
     "body": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}},
    {"time_unix_nano": 5, "severity_text": "ERROR", "body": {"intValue": "3"},
     "event_name": "x", "attributes": [{"key": "event.name", "value": {"stringValue": "y"}}]},
    {"timeUnixNano": 1, "severityNumber": "SEVERITY_NUMBER_FATAL", "body": {"bytesValue": "AP8="}},
    {"timeUnixNano": 1, "body": {}},
    {"timeUnixNano": 1, "body": {"arrayValue": {"values": [{"doubleValue": 0.5}]}}},
])
def test_log_records_decode_as_the_protobuf_path_does(record: dict[str, Any]) -> None:
    fast, reference = both("logs", log_document(record))
    assert fast == reference
    assert fast[0].service == "orders"


def test_a_log_record_without_times_gets_the_time_received() -> None:
    before = time.time_ns()
    [record] = decode_logs(orjson.dumps(log_document({})), JSON)
    assert record.time_ns >= before
    assert (record.message, record.level, record.trace_id) == ("", "info", "")


@pytest.mark.parametrize(("document", "reason"), [
    ({"resourceSpans": {"oops": 1}}, "resourceSpans must be an array"),
    (traces(rich_span(traceId="zz")), "traceId 'zz' is not 32 hex digits"),
    (traces(rich_span(spanId=TRACE_ID)), "spanId '5b8e.* is not 16 hex digits"),
    (traces(rich_span(parentSpanId=5)), "parentSpanId 5 is not a string"),
    (traces(rich_span(startTimeUnixNano="soon")), "invalid OTLP JSON"),
    (traces(rich_span(startTimeUnixNano="1.5")), "not an integer"),
    (traces(rich_span(endTimeUnixNano=-1)), "out of range"),
    (traces(rich_span(name=3)), "name 3 is not a string"),
    (traces(rich_span(attributes={"k": "v"})), "attributes must be an array"),
    (traces(rich_span(attributes=[{"key": 1, "value": {}}])), "attribute key 1"),
    (traces(rich_span(attributes=[{"key": "k", "value": {"intValue": "x"}}])), "invalid OTLP"),
    (traces(rich_span(attributes=[{"key": "k", "value": {"boolValue": 1}}])), "not a boolean"),
    (traces(rich_span(events=[{"timeUnixNano": [1]}])), "not an integer"),
])
def test_invalid_documents_raise_with_a_reason(document: dict[str, Any], reason: str) -> None:
    body = orjson.dumps(document)
    with pytest.raises(OtlpDecodeError, match=reason):
        decode_traces(body, JSON)
    with pytest.raises(OtlpDecodeError):  # the protobuf path refuses them too
        decode_payload("traces", body, JSON, want_protobuf=True)


@pytest.mark.parametrize(("document", "reason"), [
    (traces(rich_span(kind=True)), "kind True"),
    ({"resourceSpans": [[]]}, "invalid OTLP JSON"),
    (traces(rich_span(status=[1])), "invalid OTLP JSON"),
    (traces(rich_span(attributes=[{"key": "k", "value": "v"}])), "must be an object"),
    (traces(rich_span(attributes=[{"key": "k", "value": {"bytesValue": "!!"}}])), "base64"),
])
def test_the_fast_path_is_stricter_where_json_format_guesses(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(OtlpDecodeError, match=reason):
        decode_traces(orjson.dumps(document), JSON)


def test_unknown_enum_names_are_ignored_like_unknown_fields() -> None:
    document = traces(rich_span(kind="SPAN_KIND_SIDEWAYS", status={"code": "STATUS_CODE_MAYBE"}))
    fast, reference = both("traces", document)
    assert fast == reference
    assert (fast[0].kind, fast[0].status) == ("internal", "unset")
    [record] = both("logs", log_document({"severityNumber": "SEVERITY_NUMBER_LOUD",
                                          "timeUnixNano": 1}))[0]
    assert record.level == "info"


def test_random_documents_only_ever_decode_alike_or_raise_otlp_decode_error() -> None:
    rng = random.Random(4317)
    logs = ExportLogsServiceRequest()
    logs.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=3,
                                                              severity_number=9)
    samples = [orjson.dumps(traces(rich_span())),
               json_format.MessageToJson(span_request(["a", "b"])).encode(),
               json_format.MessageToJson(logs, preserving_proto_field_name=True).encode()]
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(400):
        body = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.choice(b'{}[]":,0123456789abcdefxnul ')
        for signal in ("traces", "logs"):
            try:
                decode_payload(signal, bytes(body), JSON)
                outcomes["decoded"] += 1
            except OtlpDecodeError:
                outcomes["refused"] += 1
    assert outcomes["decoded"] > 0
    assert outcomes["refused"] > 0
