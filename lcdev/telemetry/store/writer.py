"""``TelemetryWriter``: the supervisor's only path into the store, off its event loop.

Callers (the log-line sink, the OTLP receiver) hand records to ``add_*``, which only appends
to a bounded in-memory queue under a lock held for microseconds: it never waits for SQLite.
When the queue is full the new records are dropped and counted. A background thread takes up
to ``batch_size`` records of each kind at a time, at the latest ``flush_interval`` after they
came, and stores them in one transaction. Only when it has caught up (less than a batch
waiting) does it add stored lines to the text index (``indexer.py``): storing comes first.
About once a second it prunes; whatever was dropped since the last prune (store full, queue
full) is reported once as a ``warn`` line of service ``lcdev``.

A record the store cannot take is skipped and counted (``rejected``); an error of a whole
batch (disk full, say) is logged and counted too. Nothing stops the thread but ``close()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord
from lcdev.telemetry.store.store import TelemetryStore
from lcdev.telemetry.store.types import PruneResult, StoreLimits, WriterStats

__all__ = ["TelemetryWriter"]

log = logging.getLogger(__name__)

REPORT_SERVICE = "lcdev"
T = TypeVar("T")


class TelemetryWriter:
    """Batches records into a :class:`TelemetryStore` from its own thread."""

    def __init__(self, path: Path | str, limits: StoreLimits | None = None, *,
                 capacity: int = 200_000, batch_size: int = 5000, flush_interval: float = 0.1,
                 prune_interval: float = 1.0, index_chunk: int = 5000) -> None:
        self.path = Path(path)
        self.limits = limits or StoreLimits()
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.prune_interval = prune_interval
        self.index_chunk = index_chunk
        self._cond = threading.Condition(threading.Lock())
        self._logs: list[LogRecord] = []
        self._spans: list[SpanRecord] = []
        self._metrics: list[MetricPoint] = []
        self._queued = 0
        self._busy = False  # a taken batch is being written
        self._stopping = False
        self._written = self._dropped = self._rejected = self._pruned = 0
        self._reported_drops = 0
        self._last_error = ""
        self._store: TelemetryStore | None = None
        self._thread: threading.Thread | None = None

    # -- the callers' side ---------------------------------------------------------------------

    def start(self) -> None:
        """Open the store (errors surface here, in the caller) and start the thread."""
        self._store = TelemetryStore.open(self.path, limits=self.limits)
        self._thread = threading.Thread(target=self._run, name="lcdev-telemetry-writer",
                                        daemon=True)
        self._thread.start()

    def add_logs(self, records: Iterable[LogRecord]) -> None:
        self._add(self._logs, records)

    def add_spans(self, records: Iterable[SpanRecord]) -> None:
        self._add(self._spans, records)

    def add_metrics(self, points: Iterable[MetricPoint]) -> None:
        self._add(self._metrics, points)

    def stats(self) -> WriterStats:
        with self._cond:
            store = self._store
            rejected = self._rejected + (store.rejected if store else 0)
            last_error = self._last_error or (store.last_error if store else "")
            return WriterStats(queued=self._queued, written=self._written,
                               dropped=self._dropped, rejected=rejected, pruned=self._pruned,
                               last_error=last_error)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is stored; False on timeout."""
        with self._cond:
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._queued and not self._busy, timeout)

    def close(self, timeout: float = 2.0) -> None:
        """Store what is queued and stop (at most ``timeout`` seconds; lines not yet in the
        text index are indexed by the next writer)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("telemetry writer still busy after %.1f s; leaving it", timeout)

    def _add(self, queue: list[Any], records: Iterable[Any]) -> None:
        batch = records if isinstance(records, list | tuple) else list(records)
        if not batch:
            return
        with self._cond:
            room = 0 if self._stopping else self.capacity - self._queued
            if room < len(batch):
                self._dropped += len(batch) - max(0, room)
                batch = batch[:max(0, room)]
            queue.extend(batch)
            self._queued += len(batch)
            if self._queued >= self.batch_size:
                self._cond.notify()

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        store = self._store
        assert store is not None
        more_to_index = True  # a previous writer may have left lines unindexed
        next_prune = time.monotonic() + self.prune_interval
        try:
            while True:
                logs, spans, metrics, stopping = self._take(wait=not more_to_index)
                if logs or spans or metrics:
                    self._write(store, logs, spans, metrics)
                if stopping and not (self._logs or self._spans or self._metrics):
                    return
                if stopping:
                    continue
                if self._queued < self.batch_size:  # caught up: time for the text index
                    more_to_index = self._index(store)
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self.prune_interval
                    self._prune(store)
        finally:
            store.close()

    def _take(self, wait: bool) -> tuple[list[LogRecord], list[SpanRecord], list[MetricPoint],
                                         bool]:
        with self._cond:
            if wait and not self._stopping:
                self._cond.wait_for(lambda: self._queued >= self.batch_size or self._stopping,
                                    self.flush_interval)
            logs = _take_front(self._logs, self.batch_size)
            spans = _take_front(self._spans, self.batch_size)
            metrics = _take_front(self._metrics, self.batch_size)
            self._queued -= len(logs) + len(spans) + len(metrics)
            self._busy = bool(logs or spans or metrics)
            return logs, spans, metrics, self._stopping

    def _write(self, store: TelemetryStore, logs: list[LogRecord], spans: list[SpanRecord],
               metrics: list[MetricPoint]) -> None:
        count = len(logs) + len(spans) + len(metrics)
        try:
            stored = sum(store.write_batch(logs, spans, metrics))
        except Exception as exc:  # noqa: BLE001 - the thread must outlive any bad batch
            log.exception("telemetry batch of %d records not stored", count)
            stored = 0
            self._last_error = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self._rejected += count
        with self._cond:
            self._written += stored
            self._busy = False
            self._cond.notify_all()

    def _index(self, store: TelemetryStore) -> bool:
        """Index one chunk of stored lines; True when there may be more."""
        try:
            return store.index_pending(self.index_chunk) >= self.index_chunk
        except Exception as exc:  # noqa: BLE001
            log.exception("telemetry text index not updated")
            self._last_error = f"{type(exc).__name__}: {exc}"
            return False

    def _prune(self, store: TelemetryStore) -> None:
        try:
            result = store.prune()
        except Exception as exc:  # noqa: BLE001
            log.exception("telemetry store not pruned")
            self._last_error = f"{type(exc).__name__}: {exc}"
            return
        with self._cond:
            self._pruned += result.rows_dropped
            dropped = self._dropped - self._reported_drops
            self._reported_drops = self._dropped
        reports = _reports(result, dropped, self.limits)
        if reports:
            self._write(store, reports, [], [])


def _take_front(queue: list[T], size: int) -> list[T]:
    """Remove and return up to ``size`` items. In place: ``_add`` holds the same list object."""
    taken = queue[:size]
    del queue[:size]
    return taken


def _reports(result: PruneResult, queue_drops: int, limits: StoreLimits) -> list[LogRecord]:
    now = time.time_ns()
    reports = []
    if result.by_size and result.rows_dropped:
        reports.append(LogRecord(
            time_ns=now, service=REPORT_SERVICE, stream="lcdev", level="warn",
            message=(f"telemetry store full ({result.size_before / 2**20:.1f} MiB, limit "
                     f"{limits.max_bytes / 2**20:.0f} MiB): dropped {result.rows_dropped} "
                     f"oldest rows ({result.logs_dropped} log lines, {result.spans_dropped} "
                     f"spans, {result.metrics_dropped} metric points)"),
            attributes={"lcdev.dropped_rows": result.rows_dropped}))
    if queue_drops:
        reports.append(LogRecord(
            time_ns=now, service=REPORT_SERVICE, stream="lcdev", level="warn",
            message=(f"telemetry writer queue full: dropped {queue_drops} new records "
                     "(more arrived than the store could take)"),
            attributes={"lcdev.dropped_records": queue_drops}))
    return reports
