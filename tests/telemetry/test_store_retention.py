"""The store stays within its limits (oldest out first) and survives files it cannot use."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord
from lcdev.telemetry.store import (
    LogQuery,
    StoreError,
    StoreLimits,
    StoreUnavailable,
    TelemetryStore,
    TraceQuery,
)

DAY = 24 * 3600 * 10**9


def line(message: str, at_ns: int, service: str = "orders") -> LogRecord:
    return LogRecord(time_ns=at_ns, service=service, stream="stdout", level="info",
                     message=message)


def server_span(trace: str, at_ns: int) -> SpanRecord:
    return SpanRecord(trace_id=trace, span_id="a" * 16, parent_span_id="", service="orders",
                      name="GET /orders", kind="server", start_ns=at_ns, end_ns=at_ns + 10**6,
                      attributes={"http.route": "/orders"})


def test_prune_by_age_drops_only_old_rows(tmp_path: Path) -> None:
    now = time.time_ns()
    with TelemetryStore.open(tmp_path / "t.db", limits=StoreLimits(max_age_s=86400)) as store:
        store.write_logs([line(f"old {i}", now - 2 * DAY + i) for i in range(10)])
        store.write_logs([line(f"new {i}", now - 1000 + i) for i in range(5)])
        store.write_spans([server_span("1" * 32, now - 2 * DAY), server_span("2" * 32, now)])
        store.write_metrics([MetricPoint(now - 2 * DAY, "orders", "m", "gauge", 1.0),
                             MetricPoint(now, "orders", "m", "gauge", 2.0)])
        result = store.prune()
        assert (result.logs_dropped, result.spans_dropped, result.metrics_dropped) == (10, 1, 1)
        assert result.by_age
        assert not result.by_size
        assert [r.message for r in store.query_logs(LogQuery())] == [f"new {i}" for i in range(5)]
        assert [t.trace_id for t in store.list_traces(TraceQuery())] == ["2" * 32]
        assert [row.count for row in store.route_metrics()] == [1]
        stats = store.stats()
        assert (stats.logs, stats.spans, stats.traces, stats.metrics) == (5, 1, 1, 1)
        assert store.prune().rows_dropped == 0


def test_size_bound_holds_and_oldest_go_first(tmp_path: Path) -> None:
    limits = StoreLimits(max_bytes=1024 * 1024, max_age_s=365 * 86400)
    now = time.time_ns()
    with TelemetryStore.open(tmp_path / "t.db", limits=limits) as store:
        store.rows_per_partition = 1000
        written = 0
        for batch in range(30):
            records = [line(f"{written + i} payload {'x' * 200}", now + written + i)
                       for i in range(500)]
            store.write_batch(logs=records, spans=[server_span(f"{batch:032x}", now)])
            written += len(records)
            store.index_pending(max_rows=100_000)
            result = store.prune()
            assert store.stats().size_bytes <= limits.max_bytes
            if result.by_size:
                assert result.size_after <= limits.max_bytes
        stats = store.stats()
        assert 0 < stats.logs < written  # some were dropped ...
        remaining = store.query_logs(LogQuery(limit=written))
        assert remaining[-1].message.startswith(f"{written - 1} ")  # ... the oldest ones
        first_kept = int(remaining[0].message.split()[0])
        assert [int(r.message.split()[0]) for r in remaining] == list(
            range(first_kept, written))
        assert stats.file_bytes + stats.wal_bytes <= 2 * limits.max_bytes
        # the text index still answers for what is left, and forgot what is gone
        found = store.query_logs(LogQuery(grep=f"{first_kept} payload"))
        assert [r.message.split()[0] for r in found] == [str(first_kept)]
        assert store.query_logs(LogQuery(grep="0 payload xx", limit=1))[0].id >= remaining[0].id


def test_ids_are_never_reused(tmp_path: Path) -> None:
    now = time.time_ns()
    with TelemetryStore.open(tmp_path / "t.db", limits=StoreLimits(max_age_s=1)) as store:
        store.write_logs([line("old", now - DAY)])
        (old,) = store.query_logs(LogQuery())
        assert store.prune().logs_dropped == 1
        store.write_logs([line("new", now)])
        (new,) = store.query_logs(LogQuery())
        assert new.id > old.id
        assert store.query_logs(LogQuery(after_id=old.id)) == [new]


def test_other_schema_version_is_recreated_by_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with TelemetryStore.open(path) as store:
        store.write_logs([line("before", 1)])
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(StoreUnavailable, match="schema version 99"):
        TelemetryStore.open(path, readonly=True)
    with TelemetryStore.open(path) as store:
        assert store.query_logs(LogQuery()) == []
        store.write_logs([line("after", 2)])
    with TelemetryStore.open(path, readonly=True) as reader:
        assert [r.message for r in reader.query_logs(LogQuery())] == ["after"]


def test_a_file_that_is_not_a_database_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(StoreUnavailable):
        TelemetryStore.open(path, readonly=True)
    with TelemetryStore.open(path) as store:
        assert store.write_logs([line("fine", 1)]) == 1


def test_reader_needs_a_store_and_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no telemetry store"):
        TelemetryStore.open(tmp_path / "missing.db", readonly=True)
    TelemetryStore.open(tmp_path / "t.db").close()
    with TelemetryStore.open(tmp_path / "t.db", readonly=True) as reader:
        with pytest.raises(StoreError):
            reader.write_logs([line("x", 1)])
        with pytest.raises(StoreError):
            reader.prune()
        assert reader.query_logs(LogQuery()) == []
