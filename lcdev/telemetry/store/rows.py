"""Records to table rows and back: cutting long messages, making text safe to store, JSON.

The hot path (``log_row``) does as little as it can for the common line: one regular
expression search for unsafe characters and a length check; attributes are JSON only when
there are any.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from lcdev.telemetry.records import LEVELS, Level, LogRecord, MetricPoint, SpanEvent, SpanRecord
from lcdev.telemetry.store.types import MAX_MESSAGE_CHARS

__all__ = [
    "LEVEL_NUMBER",
    "LOG_COLUMNS",
    "SPAN_COLUMNS",
    "clean_row",
    "clean_text",
    "decode_log",
    "decode_span",
    "log_row",
    "metric_row",
    "span_row",
    "trace_key",
]

LEVEL_NUMBER: dict[str, int] = {level: number for number, level in enumerate(LEVELS)}
TRUNCATED_KEY = "lcdev.truncated_chars"
LOG_COLUMNS = "id, time_ns, service, stream, level, message, trace_id, span_id, attributes"
SPAN_COLUMNS = ("id, trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, "
                "status, status_message, route, attributes, events")

# C0 controls except tab and newline, DEL, C1 controls (a terminal acts on them) and lone
# surrogates (undecodable bytes; SQLite cannot store them as UTF-8).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_REPLACEMENT = "\ufffd"
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS


def clean_text(text: str) -> str:
    """``text`` with control characters (other than tab and newline) replaced."""
    return _UNSAFE.sub(_REPLACEMENT, text) if _UNSAFE.search(text) else text


def log_row(record: LogRecord, row_id: int) -> tuple[Any, ...]:
    message = record.message
    attributes = record.attributes
    if len(message) > MAX_MESSAGE_CHARS:
        attributes = {**attributes, TRUNCATED_KEY: len(message) - MAX_MESSAGE_CHARS}
        message = message[:MAX_MESSAGE_CHARS]
    if _UNSAFE.search(message):
        message = _UNSAFE.sub(_REPLACEMENT, message)
    trace_id = record.trace_id
    return (row_id, int(record.time_ns), record.service, record.stream,
            LEVEL_NUMBER.get(record.level, 2), message, trace_id, record.span_id,
            encode_json(attributes) if attributes else None,
            trace_key(trace_id) if trace_id else 0)


def trace_key(trace_id: str) -> int:
    """A small integer for the index on the lines of a trace (0 means none): the id's first
    32 bits, or a CRC for an id that is not hex."""
    try:
        key = int(trace_id[:8], 16)
    except ValueError:
        key = zlib.crc32(trace_id.encode("utf-8", "replace"))
    return key or 1


def span_row(span: SpanRecord, row_id: int) -> tuple[Any, ...]:
    events = ([[event.name, int(event.time_ns), dict(event.attributes)] for event in span.events]
              if span.events else None)
    return (row_id, span.trace_id, span.span_id, span.parent_span_id, span.service, span.name,
            span.kind, int(span.start_ns), int(span.end_ns), span.status, span.status_message,
            span.route, encode_json(span.attributes) if span.attributes else None,
            encode_json(events) if events else None)


def metric_row(point: MetricPoint, row_id: int) -> tuple[Any, ...]:
    return (row_id, int(point.time_ns), point.service, point.name, point.kind,
            float(point.value), int(point.count), point.unit,
            encode_json(point.attributes) if point.attributes else None)


def clean_row(row: Sequence[Any]) -> tuple[Any, ...]:
    """A row whose every text is safe: the slow path, for a batch that SQLite refused."""
    return tuple(clean_text(value) if isinstance(value, str) else value for value in row)


def encode_json(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS, default=repr)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(_plain(value), option=_JSON_OPTIONS)


def _plain(value: Any) -> Any:
    """JSON-safe copy: text cleaned, unknown objects as their repr (orjson refused the value)."""
    if isinstance(value, Mapping):
        return {clean_text(str(key)): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else str(value)
    return clean_text(repr(value))


def decode_json(blob: bytes | str | None) -> Any:
    return orjson.loads(blob) if blob else {}


def level_name(number: int) -> Level:
    return LEVELS[number] if 0 <= number < len(LEVELS) else "info"


def decode_log(row: Sequence[Any]) -> LogRecord:
    return LogRecord(id=row[0], time_ns=row[1], service=row[2], stream=row[3],
                     level=level_name(row[4]), message=row[5], trace_id=row[6],
                     span_id=row[7], attributes=decode_json(row[8]))


def decode_span(row: Sequence[Any]) -> SpanRecord:
    events = tuple(SpanEvent(name=name, time_ns=time_ns, attributes=attributes)
                   for name, time_ns, attributes in (decode_json(row[13]) or ()))
    return SpanRecord(trace_id=row[1], span_id=row[2], parent_span_id=row[3], service=row[4],
                      name=row[5], kind=row[6], start_ns=row[7], end_ns=row[8],
                      status=row[9], status_message=row[10], attributes=decode_json(row[12]),
                      events=events)
