"""TelemetryWriter: many callers at once, never blocking, never dying, and readers that only
ever see whole batches."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lcdev.telemetry.records import LogRecord, SpanRecord
from lcdev.telemetry.store import (
    LogQuery,
    StoreLimits,
    TelemetryStore,
    TelemetryWriter,
    TraceQuery,
)


def line(message: str, service: str = "orders") -> LogRecord:
    return LogRecord(time_ns=time.time_ns(), service=service, stream="stdout", level="info",
                     message=message)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_many_threads_add_while_a_reader_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    writer = TelemetryWriter(path, batch_size=500, flush_interval=0.02)
    writer.start()
    reader = TelemetryStore.open(path, readonly=True)
    seen: list[int] = []

    def produce(name: str) -> None:
        for start in range(0, 2000, 50):
            writer.add_logs([line(f"{name} {i}", service=name) for i in range(start, start + 50)])

    producers = [threading.Thread(target=produce, args=(f"p{n}",)) for n in range(4)]
    for thread in producers:
        thread.start()
    while any(thread.is_alive() for thread in producers):
        seen.append(len(reader.query_logs(LogQuery(limit=10_000, newest_first=True))))
    for thread in producers:
        thread.join()
    writer.close(timeout=10)
    stats = writer.stats()
    assert (stats.written, stats.dropped, stats.rejected, stats.queued) == (8000, 0, 0, 0)
    assert seen == sorted(seen)  # a reader never sees rows disappear or go back
    for name in ("p0", "p1", "p2", "p3"):
        rows = reader.query_logs(LogQuery(services=(name,), limit=10_000))
        assert [int(row.message.split()[1]) for row in rows] == list(range(2000))
    reader.close()


def test_readers_see_whole_batches_only(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = TelemetryStore.open(path)
    reader = TelemetryStore.open(path, readonly=True)
    done = threading.Event()

    def write() -> None:
        for batch in range(40):
            store.write_logs([line(str(i), service=f"b{batch}") for i in range(300)])
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    checks = 0
    while not done.is_set() or checks == 0:
        counts = Counter(row.service for row in reader.query_logs(LogQuery(limit=20_000)))
        assert set(counts.values()) <= {300}, counts
        checks += 1
    thread.join()
    assert len(reader.query_logs(LogQuery(limit=20_000))) == 12_000
    store.close()
    reader.close()


def test_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    writer = TelemetryWriter(tmp_path / "t.db", capacity=10, prune_interval=0.05)
    started = time.perf_counter()
    writer.add_logs([line(f"m{i}") for i in range(25)])  # the thread is not even running
    assert time.perf_counter() - started < 0.5
    assert (writer.stats().queued, writer.stats().dropped) == (10, 15)
    writer.start()
    assert writer.flush()
    with TelemetryStore.open(tmp_path / "t.db", readonly=True) as reader:
        wait_for(lambda: bool(reader.query_logs(LogQuery(services=("lcdev",)))))
        (report,) = reader.query_logs(LogQuery(services=("lcdev",)))
        assert (report.level, report.attributes["lcdev.dropped_records"]) == ("warn", 15)
        assert "dropped 15" in report.message
        assert [r.message for r in reader.query_logs(LogQuery(services=("orders",)))] == [
            f"m{i}" for i in range(10)]
    writer.close()
    writer.add_logs([line("after close")])
    assert writer.stats().dropped == 16


def test_full_store_drops_oldest_and_reports_once_per_prune(tmp_path: Path) -> None:
    limits = StoreLimits(max_bytes=512 * 1024, max_age_s=86400)
    writer = TelemetryWriter(tmp_path / "t.db", limits, prune_interval=0.05)
    writer.start()
    for batch in range(8):
        writer.add_logs([line(f"{batch}-{i} {'y' * 300}") for i in range(400)])
        assert writer.flush()
        time.sleep(0.06)  # a prune between batches
    with TelemetryStore.open(tmp_path / "t.db", readonly=True) as reader:
        wait_for(lambda: bool(reader.query_logs(LogQuery(services=("lcdev",)))))
        writer.close()
        reports = reader.query_logs(LogQuery(services=("lcdev",)))
        assert all(r.level == "warn" and "store full" in r.message and "oldest rows" in r.message
                   for r in reports)
        # (older reports may themselves have been pruned since)
        assert writer.stats().pruned >= sum(r.attributes["lcdev.dropped_rows"] for r in reports)
        assert reader.stats().size_bytes <= limits.max_bytes
        kept = reader.query_logs(LogQuery(services=("orders",), limit=10_000))
        assert kept[-1].message.startswith("7-399 ")
        assert not kept[0].message.startswith("0-0 ")


def test_bad_records_are_skipped_and_the_thread_lives_on(tmp_path: Path) -> None:
    writer = TelemetryWriter(tmp_path / "t.db", flush_interval=0.01)
    writer.start()
    broken_span = SpanRecord(trace_id="1" * 32, span_id="a" * 16, parent_span_id="",
                             service="orders", name="x", kind="server",
                             start_ns="soon", end_ns=None)  # type: ignore[arg-type]
    writer.add_spans([broken_span])
    writer.add_logs([LogRecord(time_ns=None, service="orders", stream="stdout",  # type: ignore[arg-type]
                               level="info", message="bad"), line("good")])
    assert writer.flush()
    writer.add_spans([SpanRecord(trace_id="2" * 32, span_id="b" * 16, parent_span_id="",
                                 service="orders", name="GET /", kind="server", start_ns=1,
                                 end_ns=2)])
    writer.close()
    stats = writer.stats()
    assert (stats.written, stats.rejected) == (2, 2)
    assert stats.last_error
    with TelemetryStore.open(tmp_path / "t.db", readonly=True) as reader:
        assert [r.message for r in reader.query_logs(LogQuery())] == ["good"]
        assert [t.trace_id for t in reader.list_traces(TraceQuery())] == ["2" * 32]


def test_close_stores_what_is_queued(tmp_path: Path) -> None:
    writer = TelemetryWriter(tmp_path / "t.db", flush_interval=5.0)
    writer.start()
    writer.add_logs([line(f"m{i}") for i in range(1200)])
    writer.close(timeout=10)
    with TelemetryStore.open(tmp_path / "t.db", readonly=True) as reader:
        assert len(reader.query_logs(LogQuery(limit=5000))) == 1200
        # lines not indexed before close are still found by text
        assert [r.message for r in reader.query_logs(LogQuery(grep="m1199"))] == ["m1199"]
