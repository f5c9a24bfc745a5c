"""parse_line: levels, messages, times and trace ids out of the lines real processes print."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from lcdev.telemetry.logparse import parse_line

NOW = 1_790_000_000_000_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def parse(text: str, stream: str = "stderr"):  # noqa: ANN201 - a LogRecord
    return parse_line("orders", stream, text, NOW)


def test_runtime_json_line_links_to_its_trace() -> None:
    line = orjson.dumps({"time": "2026-11-22T16:00:00.123456Z", "level": "warning",
                         "msg": "stock low", "service": "orders", "trace_id": TRACE.upper(),
                         "span_id": SPAN, "sku": "A-1", "left": 2}).decode()
    record = parse(line)
    expected = datetime(2026, 11, 22, 16, 0, 0, 123456, tzinfo=UTC)
    assert record.time_ns == int(expected.timestamp()) * 10**9 + 123456 * 1000
    assert (record.level, record.message) == ("warn", "stock low")
    assert (record.trace_id, record.span_id) == (TRACE, SPAN)
    assert dict(record.attributes) == {"sku": "A-1", "left": 2}  # own service name dropped
    assert (record.service, record.stream) == ("orders", "stderr")


@pytest.mark.parametrize(("fields", "level"), [
    ({"lvl": "ERROR"}, "error"), ({"severity": "Critical"}, "fatal"),
    ({"levelname": "DEBUG"}, "debug"), ({"level": 50}, "error"), ({"level": 30}, "info"),
    ({"level": 17}, "error"), ({"level": "nonsense"}, "info"), ({}, "info"),
])
def test_json_level_keys_names_and_numbers(fields: dict[str, object], level: str) -> None:
    assert parse(orjson.dumps({"msg": "m", **fields}).decode()).level == level


@pytest.mark.parametrize(("stamp", "expected"), [
    (1_790_000_000, 1_790_000_000 * 10**9),  # seconds
    (1_790_000_000.5, 1_790_000_000_500_000_000),
    (1_790_000_000_123, 1_790_000_000_123_000_000),  # milliseconds
    (1_790_000_000_123_456, 1_790_000_000_123_456_000),  # microseconds
    (1_790_000_000_123_456_789, 1_790_000_000_123_456_789),  # nanoseconds
    ("2026-11-22T16:00:00+01:00", int(datetime(2026, 11, 22, 15, tzinfo=UTC).timestamp()) * 10**9),
    ("not a time", NOW), (None, NOW),
])
def test_json_time_forms(stamp: object, expected: int) -> None:
    assert parse(orjson.dumps({"ts": stamp, "message": "m"}).decode()).time_ns == expected


def test_json_alternative_keys_and_odd_shapes() -> None:
    record = parse(orjson.dumps({"@timestamp": "2026-01-01T00:00:00Z", "event": "started",
                                 "traceId": TRACE, "spanId": SPAN}).decode())
    assert (record.message, record.trace_id, record.span_id) == ("started", TRACE, SPAN)
    otel = parse(orjson.dumps({"message": "m", "otelTraceID": "0" * 32}).decode())
    assert otel.trace_id == ""  # the all-zero id means no trace
    no_message = '{"level": "error", "code": 7}'
    assert parse(no_message).message == no_message
    assert parse(no_message).level == "error"
    assert parse('{"msg": {"nested": 1}}').message == '{"nested":1}'
    assert parse("[1, 2, 3]").message == "[1, 2, 3]"
    assert parse("{not json at all").message == "{not json at all"


@pytest.mark.parametrize(("line", "level", "message"), [
    ('INFO:     127.0.0.1:5 - "GET /orders HTTP/1.1" 200 OK', "info",
     '127.0.0.1:5 - "GET /orders HTTP/1.1" 200 OK'),
    ("ERROR:    Exception in ASGI application", "error", "Exception in ASGI application"),
    ("WARNING:root:disk almost full", "warn", "root:disk almost full"),
    ("[INFO] listening", "info", "listening"),
    ("[warn] slow query", "warn", "slow query"),
    ("[ERROR]: boom", "error", "boom"),
    ("CRITICAL something broke", "fatal", "something broke"),
    ("Error: connect ECONNREFUSED", "error", "connect ECONNREFUSED"),
    ("Debug mode is on", "info", "Debug mode is on"),  # a word, not a level
    ("2026-11-22 16:00:00.123 UTC [123] LOG:  database system is ready", "info",
     "database system is ready"),
    ("2026-11-22 16:00:00.123 UTC [123] ERROR:  relation \"x\" does not exist", "error",
     'relation "x" does not exist'),
    ("2026-11-22 16:00:00.123 UTC [123] FATAL:  role \"root\" does not exist", "fatal",
     'role "root" does not exist'),
    ("2026-11-22 16:00:00.123 UTC [123] WARNING:  no checkpoint", "warn", "no checkpoint"),
    ("2026-11-22T16:00:00.123456Z  INFO tansu::broker: listening on 9092", "info",
     "tansu::broker: listening on 9092"),
    ("2026-11-22T16:00:00.123456Z ERROR tansu::storage: failed", "error",
     "tansu::storage: failed"),
    ("2026-11-22T16:00:00.123456Z DEBUG tansu: x", "debug", "tansu: x"),
    ("2026-11-22 16:00:00,123 - shop.orders - WARNING - retrying", "warn", "retrying"),
    ("2026-11-22 16:00:00,123 INFO shop.orders: started", "info", "shop.orders: started"),
    ("2026-11-22 16:00:00 [error] upstream timed out", "error", "upstream timed out"),
    ("plain output, no level", "info", "plain output, no level"),
    ("Traceback (most recent call last):", "info", "Traceback (most recent call last):"),
    ("", "info", ""),
])
def test_text_formats(line: str, level: str, message: str) -> None:
    record = parse(line + "\n")
    assert (record.level, record.message, record.time_ns) == (level, message, NOW)


def test_postgres_pid_is_an_attribute() -> None:
    record = parse("2026-11-22 16:00:00.123 UTC [4242] LOG:  checkpoint starting: time")
    assert dict(record.attributes) == {"process.pid": 4242}


def test_logfmt() -> None:
    record = parse(f'time=2026-11-22T16:00:00Z level=warn msg="cache \\"hot\\" miss" '
                   f"trace_id={TRACE} key=orders:42")
    assert (record.level, record.message, record.trace_id) == ("warn", 'cache "hot" miss', TRACE)
    assert dict(record.attributes) == {"time": "2026-11-22T16:00:00Z", "key": "orders:42"}
    without_message = parse("lvl=error code=7")
    assert (without_message.level, without_message.message) == ("error", "lvl=error code=7")
    assert parse("nothing=here level").level == "info"


def test_stderr_is_not_an_error_signal() -> None:
    assert parse("LOG:  starting PostgreSQL", stream="stderr").level == "info"
    assert parse("some text", stream="stderr").level == "info"
