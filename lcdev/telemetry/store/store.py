"""``TelemetryStore``: one workspace's logs, spans and metric points in one SQLite file.

The supervisor's writer holds the only writable store; ``lcdev logs/traces/trace/metrics``
(and the TUI) open read-only ones. SQLite's WAL mode gives every read a snapshot of the last
committed batch, so readers never wait for the writer, never hold it up, and never see half a
batch. A store object is used by one thread at a time.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord
from lcdev.telemetry.store import indexer, logruns, retention
from lcdev.telemetry.store.connection import open_reader, open_writer
from lcdev.telemetry.store.ingest import insert_logs, insert_metrics, insert_spans
from lcdev.telemetry.store.logquery import query_logs
from lcdev.telemetry.store.metricsquery import route_metrics
from lcdev.telemetry.store.tracequery import get_trace, list_traces, match_trace_ids
from lcdev.telemetry.store.types import (
    LogQuery,
    PruneResult,
    RouteMetrics,
    StoreError,
    StoreLimits,
    StoreStats,
    TraceDetail,
    TraceQuery,
    TraceSummary,
)

__all__ = ["TelemetryStore"]

log = logging.getLogger(__name__)


class TelemetryStore:
    """Read and (unless read-only) write one telemetry database; see docs/telemetry-internals.md.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool,
                 limits: StoreLimits) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self.limits = limits
        self.rejected = 0
        self.last_error = ""
        # Partitions of about an eighth of what the bound holds (~2 KiB per line, all told),
        # so a prune by size can drop whole partitions of the text index.
        self.rows_per_partition = max(1000, min(250_000, limits.max_bytes // 2048))

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False,
             limits: StoreLimits | None = None) -> TelemetryStore:
        """Open (a writable store: create or reset) the database at ``path``.

        Read-only: :class:`StoreUnavailable` when there is no usable store there."""
        path = Path(path)
        limits = limits or StoreLimits()
        conn = open_reader(path) if readonly else open_writer(path)
        if not readonly:
            conn.execute(f"PRAGMA journal_size_limit = {retention.wal_limit(limits)}")
        return cls(conn, path, readonly=readonly, limits=limits)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> TelemetryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def write_logs(self, records: Iterable[LogRecord]) -> int:
        """Store the lines in one transaction; how many were stored."""
        return self.write_batch(logs=records)[0]

    def write_spans(self, records: Iterable[SpanRecord]) -> int:
        return self.write_batch(spans=records)[1]

    def write_metrics(self, points: Iterable[MetricPoint]) -> int:
        return self.write_batch(metrics=points)[2]

    def write_batch(self, logs: Iterable[LogRecord] = (), spans: Iterable[SpanRecord] = (),
                    metrics: Iterable[MetricPoint] = ()) -> tuple[int, int, int]:
        """Store all of them in one transaction (readers see all or none); counts stored.
        A record that cannot be stored is skipped and counted in ``rejected``."""
        with self._write() as conn:
            return (insert_logs(conn, logs, self._reject), insert_spans(conn, spans, self._reject),
                    insert_metrics(conn, metrics, self._reject))

    def index_pending(self, max_rows: int = 5000) -> int:
        """Add up to ``max_rows`` stored lines to the text index; how many it took."""
        with self._write() as conn:
            return indexer.index_pending(conn, max_rows, self.rows_per_partition)

    def prune(self) -> PruneResult:
        """Drop the oldest rows beyond the age and size limits."""
        self._check_writable()
        return retention.prune(self._conn, self.path, self.limits)

    # -- reading -------------------------------------------------------------------------------

    def query_logs(self, query: LogQuery) -> list[LogRecord]:
        """Log lines in arrival order (see :class:`LogQuery`); ``re.error`` for a bad grep."""
        with self._read() as conn:
            return query_logs(conn, query)

    def list_traces(self, query: TraceQuery) -> list[TraceSummary]:
        with self._read() as conn:
            return list_traces(conn, query)

    def get_trace(self, trace_id_or_prefix: str) -> TraceDetail | None:
        """The trace with that id or unique id prefix; ``None`` for none or several."""
        with self._read() as conn:
            return get_trace(conn, trace_id_or_prefix)

    def match_trace_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Stored trace ids starting with ``prefix`` (to explain an ambiguous prefix)."""
        with self._read() as conn:
            return match_trace_ids(conn, prefix, limit)

    def route_metrics(self, service: str | None = None,
                      since_ns: int | None = None) -> list[RouteMetrics]:
        with self._read() as conn:
            return route_metrics(conn, service, since_ns)

    def services(self) -> list[str]:
        """Every service that ever wrote a line or a span here, sorted."""
        with self._read() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM services ORDER BY name")]

    def stats(self) -> StoreStats:
        with self._read() as conn:
            counts = [int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                      for table in ("logs", "spans", "traces", "metrics")]
            oldest, newest = logruns.time_range(conn)
            size = retention.footprint(conn, self.path, self.limits)
            pending = indexer.unindexed(conn)
        return StoreStats(logs=counts[0], spans=counts[1], traces=counts[2], metrics=counts[3],
                          size_bytes=size.size_bytes, file_bytes=size.file_bytes,
                          wal_bytes=size.wal_bytes, oldest_ns=oldest, newest_ns=newest,
                          unindexed_logs=pending)

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot for all the statements of an answer."""
        self._conn.execute("BEGIN")
        try:
            yield self._conn
        finally:
            self._conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._check_writable()
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError("this telemetry store was opened read-only")

    def _reject(self, record: object, error: BaseException) -> None:
        self.rejected += 1
        self.last_error = f"{type(error).__name__}: {error}"
        if self.rejected <= 10 or self.rejected % 1000 == 0:
            log.warning("telemetry record not stored (%s; %d so far): %.200r", self.last_error,
                        self.rejected, record)
