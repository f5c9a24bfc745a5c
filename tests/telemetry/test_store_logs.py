"""Storing and finding log lines: filters, follow, grep through the text index and without it,
and lines that are long, binary or otherwise bad."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcdev.telemetry.records import Level, LogRecord
from lcdev.telemetry.store import MAX_MESSAGE_CHARS, LogQuery, TelemetryStore

T0 = 1_790_000_000_000_000_000
SECOND = 10**9
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def line(message: str, service: str = "orders", level: Level = "info", at: int = 0,
         trace_id: str = "") -> LogRecord:
    return LogRecord(time_ns=T0 + at * SECOND, service=service, stream="stdout", level=level,
                     message=message, trace_id=trace_id)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TelemetryStore]:
    with TelemetryStore.open(tmp_path / "telemetry.db") as opened:
        yield opened


def messages(records: list[LogRecord]) -> list[str]:
    return [record.message for record in records]


def test_ids_follow_arrival_and_after_id_follows(store: TelemetryStore) -> None:
    assert store.write_logs([line(f"m{i}", at=10 - i) for i in range(5)]) == 5
    first = store.query_logs(LogQuery())
    assert messages(first) == ["m0", "m1", "m2", "m3", "m4"]  # arrival order, not time order
    ids = [record.id for record in first]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5
    assert first[0].time_ns == T0 + 10 * SECOND
    assert first[0].service == "orders"
    store.write_logs([line("m5"), line("m6")])
    assert messages(store.query_logs(LogQuery(after_id=ids[-1]))) == ["m5", "m6"]
    assert messages(store.query_logs(LogQuery(after_id=ids[1], limit=2))) == ["m2", "m3"]
    assert messages(store.query_logs(LogQuery(newest_first=True, limit=3))) == ["m6", "m5", "m4"]
    assert store.query_logs(LogQuery(limit=0)) == []


def test_filters_by_service_level_trace_and_time(store: TelemetryStore) -> None:
    store.write_logs([
        line("a", "orders", "debug", at=1), line("b", "payments", "warn", at=2),
        line("c", "orders", "error", at=3, trace_id=TRACE), line("d", "gateway", "fatal", at=4),
        line("e", "orders", "info", at=5, trace_id="f" * 32),
    ])
    assert messages(store.query_logs(LogQuery(services=("orders",)))) == ["a", "c", "e"]
    assert messages(store.query_logs(LogQuery(services=("orders", "gateway")))) == [
        "a", "c", "d", "e"]
    assert messages(store.query_logs(LogQuery(min_level="warn"))) == ["b", "c", "d"]
    assert messages(store.query_logs(LogQuery(min_level="error", services=("orders",)))) == ["c"]
    assert messages(store.query_logs(LogQuery(min_level="trace"))) == list("abcde")
    assert messages(store.query_logs(LogQuery(trace_id=TRACE.upper()))) == ["c"]
    assert store.query_logs(LogQuery(trace_id="0" * 32)) == []
    window = LogQuery(since_ns=T0 + 2 * SECOND, until_ns=T0 + 4 * SECOND)
    assert messages(store.query_logs(window)) == ["b", "c", "d"]
    assert store.query_logs(LogQuery(since_ns=T0 + 6 * SECOND)) == []
    assert store.services() == ["gateway", "orders", "payments"]


def test_time_window_finds_lines_that_arrived_out_of_order(store: TelemetryStore) -> None:
    store.write_logs([line(f"new{i}", at=3600 + i) for i in range(1500)])
    store.write_logs([line("late", at=5)])  # arrives last, timed an hour earlier
    store.write_logs([line(f"newer{i}", at=7200 + i) for i in range(10)])
    early = store.query_logs(LogQuery(until_ns=T0 + 60 * SECOND))
    assert messages(early) == ["late"]


@pytest.fixture
def grep_store(store: TelemetryStore) -> TelemetryStore:
    """Lines in the text index (two partitions) and lines written after it (not indexed)."""
    store.rows_per_partition = 1000
    words = ("Connection refused", "order placed", "payment failed: timeout after 30 ms")
    store.write_logs([line(f"{i} {words[i % 3]}", level="error" if i % 3 == 2 else "info")
                      for i in range(1500)])
    assert store.index_pending(max_rows=100_000) == 1500
    store.write_logs([line("1500 connection REFUSED again"), line("1501 order placed late"),
                      line("1502 nothing to see")])
    assert store.stats().unindexed_logs == 3
    return store


def test_grep_literal_uses_index_and_sees_unindexed_lines(grep_store: TelemetryStore) -> None:
    found = grep_store.query_logs(LogQuery(grep="order placed"))
    assert len(found) == 501
    assert found[0].message == "1 order placed"
    assert found[-1].message == "1501 order placed late"
    assert [record.id for record in found] == sorted(record.id for record in found)
    newest = grep_store.query_logs(LogQuery(grep="order placed", newest_first=True, limit=3))
    assert messages(newest) == ["1501 order placed late", "1498 order placed",
                                "1495 order placed"]
    assert grep_store.query_logs(LogQuery(grep="not in any line")) == []


def test_grep_is_case_sensitive_unless_the_pattern_says(grep_store: TelemetryStore) -> None:
    assert len(grep_store.query_logs(LogQuery(grep="Connection refused"))) == 500
    insensitive = grep_store.query_logs(LogQuery(grep="(?i)connection refused", limit=10_000))
    assert len(insensitive) == 501
    assert insensitive[-1].message == "1500 connection REFUSED again"


def test_grep_regex_confirms_index_candidates(grep_store: TelemetryStore) -> None:
    found = grep_store.query_logs(LogQuery(grep=r"^14\d\d order placed$"))
    assert messages(found) == [f"{i} order placed" for i in range(1402, 1500, 3)]
    either = grep_store.query_logs(LogQuery(grep=r"^15\d\d .*(REFUSED|late)"))
    assert messages(either) == ["1500 connection REFUSED again", "1501 order placed late"]
    combined = grep_store.query_logs(LogQuery(grep="timeout", min_level="error", after_id=1400,
                                              limit=5))
    assert all(record.level == "error" and record.id > 1400 for record in combined)
    assert len(combined) == 5


def test_grep_without_literal_scans(grep_store: TelemetryStore) -> None:
    found = grep_store.query_logs(LogQuery(grep=r"^\d{4} \w+ \w+$"))
    assert len(found) == 333
    assert found[0].message == "1000 order placed"
    newest = grep_store.query_logs(LogQuery(grep=r"\w+ \w+ \w+$", newest_first=True, limit=2))
    assert messages(newest) == ["1502 nothing to see", "1501 order placed late"]
    with pytest.raises(re.error):
        grep_store.query_logs(LogQuery(grep="(unclosed"))


def test_long_binary_and_bad_lines(store: TelemetryStore) -> None:
    megabyte = "x" * 1_000_000 + "needle"
    binary = "before\x00\x01\x1b[31mred\x7f\x9b\ud800after\ttab\nnext line"
    bad_time = LogRecord(time_ns=None, service="orders", stream="stdout",  # type: ignore[arg-type]
                         level="info", message="no time")
    odd_service = line("odd service", service="caf\udce9")
    stored = store.write_logs([line(megabyte), line(binary), bad_time, odd_service,
                               line("still here")])
    assert stored == 4
    assert store.rejected == 1
    long_one, clean, odd, last = store.query_logs(LogQuery())
    assert len(long_one.message) == MAX_MESSAGE_CHARS
    assert long_one.attributes["lcdev.truncated_chars"] == 1_000_006 - MAX_MESSAGE_CHARS
    assert clean.message == "before\ufffd\ufffd\ufffd[31mred\ufffd\ufffd\ufffdafter\ttab\nnext line"
    assert odd.service == "caf\ufffd"
    assert last.message == "still here"
    store.index_pending()
    assert messages(store.query_logs(LogQuery(grep="xxxxxxxx", limit=1))) == [long_one.message]
    assert store.query_logs(LogQuery(grep="red")) == [clean]


def test_attributes_round_trip(store: TelemetryStore) -> None:
    record = LogRecord(time_ns=T0, service="orders", stream="otlp", level="warn", message="m",
                       span_id="00f067aa0ba902b7", trace_id=TRACE,
                       attributes={"n": 1, "nested": {"list": [1, "two"]}, 3: object()})
    store.write_logs([record])
    (stored,) = store.query_logs(LogQuery(trace_id=TRACE))
    assert (stored.stream, stored.level, stored.span_id) == ("otlp", "warn", "00f067aa0ba902b7")
    assert stored.attributes["nested"] == {"list": [1, "two"]}
    assert stored.attributes["3"].startswith("<object object")
