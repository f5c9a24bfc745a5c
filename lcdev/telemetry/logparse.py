"""One printed line to a ``LogRecord``: level, message, time and trace ids when it says them.

Runs for every line of every process the supervisor owns, so it is built for speed: the first
character picks at most one JSON parse (orjson) or one anchored regular expression, and a line
of an unknown shape costs a few string tests. Recognised:

- JSON objects: level ``level|lvl|severity|levelname`` (names, or pino/OTel numbers), message
  ``msg|message|event``, time ``time|ts|timestamp|@timestamp`` (ISO-8601, or epoch s/ms/µs/ns),
  ``trace_id|traceId|trace.id|otelTraceID`` and the span keys likewise; other keys become
  attributes. Without a message key the whole line is the message.
- Text: uvicorn/Python logging ``INFO:     …``/``WARNING:root:…``, ``[INFO] …``, a timestamp
  then a level (``… INFO …``, ``… [INFO] …``, ``… - INFO - …``), PostgreSQL
  ``2026-11-22 16:00:00.123 UTC [123] LOG:  …`` (the pid as ``process.pid``), Rust tracing
  ``2026-11-22T16:00:00.123456Z  INFO target: …``, logfmt ``level=info … msg="…"``. The
  recognised prefix is cut from the message; the time is when the line arrived (``now_ns``).

A line without a recognisable level is ``info``: stderr is not an error signal (PostgreSQL and
uvicorn log everything there).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from lcdev.telemetry.levels import level_named, severity_level
from lcdev.telemetry.records import LEVELS, Level, LogRecord

__all__ = ["parse_line"]

_UPPER = "TRACE|DEBUG[1-5]?|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|PANIC|LOG"
_LEVEL_WORDS = f"{_UPPER}|trace|debug|info|notice|warn|warning|error|fatal|critical"
# Level first: "INFO:     msg", "WARNING:root:msg", "ERROR msg", "[INFO] msg", "[warn] msg",
# "Error: msg" (a capitalised word only with a colon: "Debug mode on" is not a level).
_LEVEL_FIRST = re.compile(
    rf"\[({_LEVEL_WORDS})\]:?\s*|({_UPPER})(?::\s*|\s+)|(Debug|Info|Warning|Error|Fatal):\s*")
# Timestamp first, then (optionally a zone, a [pid], a "- name -") a level.
_STAMP_FIRST = re.compile(
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"(?: [A-Z]{2,5})?\s+(?:\[(\d+)\]\s+)?(?:-\s+)?(?:[\w.\-]+\s+-\s+)?"
    rf"\[?({_LEVEL_WORDS})(?:\]:?\s*|:\s*|\s+-\s+|\s+)")
_LOGFMT_LEVEL = re.compile(r'(?:^|\s)(?:level|lvl)="?([A-Za-z]+)')
_LOGFMT_PAIR = re.compile(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S*)')

_LEVEL_KEYS = ("level", "lvl", "severity", "levelname")
_MESSAGE_KEYS = ("msg", "message", "event")
_TIME_KEYS = ("time", "ts", "timestamp", "@timestamp")
_TRACE_KEYS = ("trace_id", "traceId", "trace.id", "otelTraceID")
_SPAN_KEYS = ("span_id", "spanId", "span.id", "otelSpanID")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def parse_line(service: str, stream: str, text: str, now_ns: int) -> LogRecord:
    """The record of one line ``service`` printed on ``stream`` (trailing newline ignored)."""
    line = text.rstrip("\r\n")
    first = line[:1]
    if first == "{":
        record = _json_line(service, stream, line, now_ns)
        if record is not None:
            return record
    elif first.isdigit():
        match = _STAMP_FIRST.match(line)
        if match:
            attributes = {"process.pid": int(match[1])} if match[1] else {}
            return LogRecord(now_ns, service, stream, _level(match[2]), line[match.end():],
                             attributes=attributes)
    elif first == "[" or first.isupper():
        match = _LEVEL_FIRST.match(line)
        if match:
            return LogRecord(now_ns, service, stream, _level(match[match.lastindex or 1]),
                             line[match.end():])
    if "level=" in line or "lvl=" in line:
        return _logfmt_line(service, stream, line, now_ns)
    return LogRecord(now_ns, service, stream, "info", line)


def _level(word: object) -> Level:
    if isinstance(word, str):
        return level_named(word) or "info"
    if isinstance(word, int | float) and not isinstance(word, bool):
        return _numeric_level(word)
    return "info"


def _numeric_level(number: float) -> Level:
    """OpenTelemetry severity numbers (1..24) or pino/bunyan levels (10, 20, .. 60)."""
    value = int(number)
    if 1 <= value <= 24 and value % 10:
        return severity_level(value)
    return LEVELS[min(5, max(0, value // 10 - 1))]


def _json_line(service: str, stream: str, line: str, now_ns: int) -> LogRecord | None:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    level = _level(_pop_first(data, _LEVEL_KEYS))
    message = _pop_first(data, _MESSAGE_KEYS)
    time_ns = _time_ns(_pop_first(data, _TIME_KEYS), now_ns)
    trace_id = _hex_id(_pop_first(data, _TRACE_KEYS))
    span_id = _hex_id(_pop_first(data, _SPAN_KEYS))
    if data.get("service") == service:
        del data["service"]
    if message is None:
        return LogRecord(time_ns, service, stream, level, line, trace_id, span_id)
    if not isinstance(message, str):
        message = orjson.dumps(message).decode()
    return LogRecord(time_ns, service, stream, level, message, trace_id, span_id, data)


def _pop_first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in data:
            return data.pop(key)
    return None


def _time_ns(value: Any, default: int) -> int:
    try:
        if isinstance(value, str):
            stamp = datetime.fromisoformat(value)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            return (stamp - _EPOCH) // _MICROSECOND * 1000
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            for scale in (10**9, 10**6, 10**3):  # seconds, milliseconds, microseconds
                if value < 10**20 // scale:
                    return value * scale if isinstance(value, int) else round(value * scale)
            return int(value)
    except (ValueError, OverflowError):
        pass
    return default


def _hex_id(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    value = value.strip().lower()
    return "" if not value.strip("0") else value


def _logfmt_line(service: str, stream: str, line: str, now_ns: int) -> LogRecord:
    """``key=value`` pairs: level, msg, trace and span ids lifted, the rest attributes."""
    if not _LOGFMT_LEVEL.search(line):
        return LogRecord(now_ns, service, stream, "info", line)
    pairs: dict[str, Any] = {}
    for key, value in _LOGFMT_PAIR.findall(line):
        pairs[key] = value[1:-1].replace('\\"', '"') if value[:1] == '"' else value
    level = _level(_pop_first(pairs, ("level", "lvl")))
    message = _pop_first(pairs, _MESSAGE_KEYS)
    trace_id = _hex_id(_pop_first(pairs, _TRACE_KEYS))
    span_id = _hex_id(_pop_first(pairs, _SPAN_KEYS))
    if message is None:
        return LogRecord(now_ns, service, stream, level, line, trace_id, span_id)
    return LogRecord(now_ns, service, stream, level, message, trace_id, span_id, pairs)
