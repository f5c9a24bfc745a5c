"""OTLP/JSON traces and logs → records, straight from the orjson-parsed document.

Going through protobuf's ``json_format`` (pure Python) capped JSON ingest at ~4k spans/s;
lcdev's own processes export OTLP/JSON (``export_json``), so the receiver reads that encoding
directly. It follows the OTLP/JSON rules a receiver must (https://opentelemetry.io/docs/specs/
otlp/#json-protobuf-encoding) and what ``json_format`` accepted before: lowerCamelCase or
snake_case field names, ids in hex (any case) or base64, enums as numbers or names, 64-bit
integers as numbers or decimal strings, ``null`` as absent, unknown fields ignored. What is
not valid OTLP (a field of the wrong type, a bad id or number) raises ``OtlpDecodeError``.
Metrics stay on the protobuf path: they are a few points every few seconds.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from typing import Any

import orjson

from lcdev.telemetry.otlp.convert import level_of
from lcdev.telemetry.otlp.payload import OtlpDecodeError
from lcdev.telemetry.otlp.values import DEFAULT_SERVICE
from lcdev.telemetry.records import LogRecord, SpanEvent, SpanKind, SpanRecord, SpanStatus

__all__ = ["logs_from_json", "spans_from_json"]

_KINDS: dict[Any, SpanKind] = {
    0: "internal", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer",
    "SPAN_KIND_UNSPECIFIED": "internal", "SPAN_KIND_INTERNAL": "internal",
    "SPAN_KIND_SERVER": "server", "SPAN_KIND_CLIENT": "client",
    "SPAN_KIND_PRODUCER": "producer", "SPAN_KIND_CONSUMER": "consumer",
}
_STATUSES: dict[Any, SpanStatus] = {
    0: "unset", 1: "ok", 2: "error",
    "STATUS_CODE_UNSET": "unset", "STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error",
}
_SEVERITY_NAMES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_SEVERITIES: dict[str, int] = {"SEVERITY_NUMBER_UNSPECIFIED": 0} | {
    f"SEVERITY_NUMBER_{name}{suffix}": 4 * index + offset + 1
    for index, name in enumerate(_SEVERITY_NAMES)
    for offset, suffix in enumerate(("", "2", "3", "4"))
}
_DOUBLE_WORDS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_UINT64_MAX = 2**64 - 1


class _Invalid(ValueError):
    """A field of the document is not what OTLP says it is; the message names it."""


def spans_from_json(document: dict[str, Any]) -> list[SpanRecord]:
    """Every span of an OTLP/JSON ``ExportTraceServiceRequest`` document."""
    try:
        return _spans(document)
    except (_Invalid, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise _invalid("ExportTraceServiceRequest", exc) from None


def logs_from_json(document: dict[str, Any]) -> list[LogRecord]:
    """Every log record of an OTLP/JSON ``ExportLogsServiceRequest`` document."""
    try:
        return _logs(document)
    except (_Invalid, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise _invalid("ExportLogsServiceRequest", exc) from None


def _invalid(message: str, exc: BaseException) -> OtlpDecodeError:
    if isinstance(exc, OtlpDecodeError):
        return exc
    return OtlpDecodeError(f"invalid OTLP JSON {message}: {exc}")


def _spans(document: dict[str, Any]) -> list[SpanRecord]:
    # Hot loop: fields are read as ``get(camel) or get(snake)`` inline (a falsy value is the
    # field's default either way), which costs a fraction of a helper call per field.
    out: list[SpanRecord] = []
    append = out.append
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        service = _service(resource_spans)
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans", "spans"):
                get = span.get
                kind = get("kind")
                status = get("status")
                status_code: Any = 0
                status_message = ""
                if status:
                    status_code = status.get("code") or 0
                    status_message = _string(status.get("message"), "status.message")
                events = get("events")
                append(SpanRecord(
                    trace_id=_id(get("traceId") or get("trace_id"), "traceId", 16),
                    span_id=_id(get("spanId") or get("span_id"), "spanId", 8),
                    parent_span_id=_id(get("parentSpanId") or get("parent_span_id"),
                                       "parentSpanId", 8),
                    service=service,
                    name=_string(get("name"), "name"),
                    kind=_enum(_KINDS, kind, "kind", "internal") if kind else "internal",
                    start_ns=_uint(get("startTimeUnixNano") or get("start_time_unix_nano"),
                                   "startTimeUnixNano"),
                    end_ns=_uint(get("endTimeUnixNano") or get("end_time_unix_nano"),
                                 "endTimeUnixNano"),
                    status=_enum(_STATUSES, status_code, "status.code", "unset")
                    if status_code else "unset",
                    status_message=status_message,
                    attributes=_key_values(get("attributes")),
                    events=_events(events) if events else (),
                ))
    return out


def _events(events: Any) -> tuple[SpanEvent, ...]:
    if type(events) is not list:
        raise _Invalid(f"events must be an array, not {type(events).__name__}")
    return tuple(
        SpanEvent(_string(event.get("name"), "event.name"),
                  _uint(event.get("timeUnixNano") or event.get("time_unix_nano"),
                        "timeUnixNano"),
                  _key_values(event.get("attributes")))
        for event in events
    )


def _logs(document: dict[str, Any]) -> list[LogRecord]:
    out: list[LogRecord] = []
    received_ns = time.time_ns()
    for resource_logs in _items(document, "resourceLogs", "resource_logs"):
        service = _service(resource_logs)
        for scope_logs in _items(resource_logs, "scopeLogs", "scope_logs"):
            for record in _items(scope_logs, "logRecords", "log_records"):
                attrs = _attributes(record)
                event_name = _string(_field(record, "eventName", "event_name"), "eventName")
                if event_name:
                    attrs.setdefault("event.name", event_name)
                severity = _field(record, "severityNumber", "severity_number") or 0
                if type(severity) is not int:
                    severity = _enum(_SEVERITIES, severity, "severityNumber", 0)
                out.append(LogRecord(
                    time_ns=_uint(_field(record, "timeUnixNano", "time_unix_nano"),
                                  "timeUnixNano")
                    or _uint(_field(record, "observedTimeUnixNano",
                                    "observed_time_unix_nano"), "observedTimeUnixNano")
                    or received_ns,
                    service=service,
                    stream="otlp",
                    level=level_of(severity, _string(
                        _field(record, "severityText", "severity_text"), "severityText")),
                    message=_message(record.get("body")),
                    trace_id=_id(_field(record, "traceId", "trace_id"), "traceId", 16),
                    span_id=_id(_field(record, "spanId", "span_id"), "spanId", 8),
                    attributes=attrs,
                ))
    return out


def _field(node: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its JSON name or its proto name (``null`` is the same as absent)."""
    value = node.get(camel)
    if value is None and snake != camel:
        value = node.get(snake)
    return value


def _items(node: Any, camel: str, snake: str) -> list[Any]:
    if type(node) is not dict:
        raise _Invalid(f"expected an object, got {type(node).__name__}")
    value = _field(node, camel, snake)
    if value is None:
        return []
    if type(value) is not list:
        raise _Invalid(f"{camel} must be an array, not {type(value).__name__}")
    return value


def _service(resource_item: dict[str, Any]) -> str:
    resource = resource_item.get("resource")
    if resource is None:
        return DEFAULT_SERVICE
    for pair in _items(resource, "attributes", "attributes"):
        if pair.get("key") == "service.name":
            value = pair.get("value") or {}
            name = _field(value, "stringValue", "string_value")
            return _string(name, "service.name") or DEFAULT_SERVICE
    return DEFAULT_SERVICE


def _attributes(node: dict[str, Any]) -> dict[str, Any]:
    """The ``attributes`` of a span, event or log record as a dict."""
    return _key_values(node.get("attributes"))


def _key_values(pairs: Any) -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict; a later duplicate key wins."""
    result: dict[str, Any] = {}
    if not pairs:
        return result
    if type(pairs) is not list:
        raise _Invalid(f"attributes must be an array, not {type(pairs).__name__}")
    for pair in pairs:
        key = pair.get("key", "")
        if type(key) is not str:
            raise _Invalid(f"attribute key {key!r} is not a string")
        value = pair.get("value")
        # The common case inline: this loop dominates decoding time.
        if type(value) is dict and type(text := value.get("stringValue")) is str:
            result[key] = text
        else:
            result[key] = _any_value(value) if value is not None else None
    return result


def _any_value(value: Any) -> Any:
    """The Python value of an ``AnyValue`` (bytes as base64 text, as the protobuf path)."""
    if type(value) is not dict:
        raise _Invalid(f"an attribute value must be an object, not {type(value).__name__}")
    for camel, snake in (("stringValue", "string_value"), ("intValue", "int_value"),
                         ("boolValue", "bool_value"), ("doubleValue", "double_value"),
                         ("arrayValue", "array_value"), ("kvlistValue", "kvlist_value"),
                         ("bytesValue", "bytes_value")):
        item = _field(value, camel, snake)
        if item is None:
            continue
        if camel == "stringValue":
            return _string(item, camel)
        if camel == "intValue":
            return _int(item, camel)
        if camel == "boolValue":
            if type(item) is not bool:
                raise _Invalid(f"boolValue {item!r} is not a boolean")
            return item
        if camel == "doubleValue":
            return _double(item)
        if camel == "arrayValue":
            return [_any_value(entry) for entry in _items(item, "values", "values")]
        if camel == "kvlistValue":
            if type(item) is not dict:
                raise _Invalid("kvlistValue must be an object")
            return _key_values(item.get("values"))
        return base64.b64encode(_bytes(item, camel)).decode("ascii")
    return None


def _message(body: Any) -> str:
    if body is None:
        return ""
    value = _any_value(body)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def _id(value: Any, name: str, size: int) -> str:
    """A trace/span id as lower-case hex: hex as the OTLP/JSON spec writes, or base64."""
    if not value:
        return ""
    if type(value) is not str:
        raise _Invalid(f"{name} {value!r} is not a string")
    if len(value) == 2 * size:
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) == size:  # (fromhex skips spaces: those make it short)
            return raw.hex()
    return _base64_id(value, name, size)


def _base64_id(value: str, name: str, size: int) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise OtlpDecodeError(f"{name} {value[:80]!r} is not {2 * size} hex digits")
    return raw.hex()


def _bytes(value: Any, name: str) -> bytes:
    if type(value) is not str:
        raise _Invalid(f"{name} {value!r} is not base64 text")
    padded = value + "=" * (-len(value) % 4)  # protobuf's JSON parser accepts it unpadded
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid(f"{name} {value[:80]!r} is not base64") from None


def _int(value: Any, name: str) -> int:
    """An int64 field: a JSON number or a decimal string (as OTLP/JSON senders write it)."""
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is str:
        try:
            return int(value)
        except ValueError:
            pass
        number = float(value)  # "1e3" is a valid JSON-mapped integer; else ValueError
    elif kind is float:
        number = value
    else:
        raise _Invalid(f"{name} {value!r} is not an integer")
    if not number.is_integer():
        raise _Invalid(f"{name} {value!r} is not an integer")
    return int(number)


def _uint(value: Any, name: str) -> int:
    """A fixed64 time in nanoseconds; absent is 0."""
    if value is None:
        return 0
    number = _int(value, name)
    if not 0 <= number <= _UINT64_MAX:
        raise _Invalid(f"{name} {value!r} is out of range")
    return number


def _double(value: Any) -> float:
    kind = type(value)
    if kind is float or kind is int:
        return float(value)
    if kind is str:
        word = _DOUBLE_WORDS.get(value)
        return word if word is not None else float(value)
    raise _Invalid(f"doubleValue {value!r} is not a number")


def _string(value: Any, name: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise _Invalid(f"{name} {value!r} is not a string")
    return value


def _enum(table: dict[Any, Any], value: Any, name: str, unknown: Any) -> Any:
    """An enum given as its number or its name; an unknown number or name is ``unknown``
    (proto3 enums are open, and receivers ignore what they do not know)."""
    kind = type(value)
    if kind is int or kind is str:
        found = table.get(value)
        return unknown if found is None else found
    raise _Invalid(f"{name} {value!r} is not an enum number or name")
