"""Keeping the store within its limits: oldest rows out first, by age and by size.

Size is the pages in use (``page_count - freelist_count``, times ``page_size``) plus the
write-ahead log, counted up to its size limit (``wal_limit``: a sixteenth of the bound; a WAL
beyond it is held by a long read and cut back at the next checkpoint). Deleted rows free
pages that the next inserts reuse, so the file stays near its high-water mark without a
``VACUUM`` (which would rewrite the whole file and block readers). Only when the file itself
is larger than the bound (the limit was lowered) are free pages handed back with
``incremental_vacuum``, a bounded number per prune.

A prune by size brings the store down to ``prune_to`` of the bound (so the next batches do not
prune again at once): it drops the same oldest fraction of logs, spans and metric points,
measures again, and repeats while needed. Text-index partitions go when every line in them is
gone (``indexer.drop_stale_partitions``).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

from lcdev.telemetry.store.indexer import drop_stale_partitions
from lcdev.telemetry.store.logruns import expired_runs
from lcdev.telemetry.store.routestats import MINUTE_NS
from lcdev.telemetry.store.types import PruneResult, StoreLimits

__all__ = ["Footprint", "footprint", "prune", "wal_limit"]

_MAX_ROUNDS = 8
_VACUUM_PAGES_PER_PRUNE = 4096


class Footprint(NamedTuple):
    size_bytes: int  # pages in use + WAL (up to its limit)
    file_bytes: int
    wal_bytes: int
    free_bytes: int


def wal_limit(limits: StoreLimits) -> int:
    """The size the WAL file is cut back to after a checkpoint (``journal_size_limit``)."""
    return max(256 * 1024, min(64 * 1024 * 1024, limits.max_bytes // 16))


def footprint(conn: sqlite3.Connection, path: Path, limits: StoreLimits | None = None
              ) -> Footprint:
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    wal = _file_size(Path(f"{path}-wal"))
    counted = min(wal, wal_limit(limits)) if limits else wal
    return Footprint((pages - free) * page_size + counted, pages * page_size, wal,
                     free * page_size)


def prune(conn: sqlite3.Connection, path: Path, limits: StoreLimits,
          now_ns: int | None = None) -> PruneResult:
    """Drop what is beyond the limits (one transaction per step; the caller holds none)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    before = footprint(conn, path, limits).size_bytes
    logs = spans = metrics = 0
    by_age = by_size = False
    cutoff = now_ns - int(limits.max_age_s * 1e9)
    with _transaction(conn):
        for first, last in expired_runs(conn, cutoff):
            logs += _changes(conn, "DELETE FROM logs WHERE id BETWEEN ? AND ?", first, last)
            conn.execute("DELETE FROM log_runs WHERE first_id = ?", (first,))
        spans += _changes(conn, "DELETE FROM spans WHERE trace_id IN "
                                "(SELECT trace_id FROM traces WHERE start_ns < ?)", cutoff)
        conn.execute("DELETE FROM traces WHERE start_ns < ?", (cutoff,))
        conn.execute("DELETE FROM route_stats WHERE minute < ?", (cutoff // MINUTE_NS,))
        metrics += _changes(conn, "DELETE FROM metrics WHERE time_ns < ?", cutoff)
        by_age = logs + spans + metrics > 0
        if by_age:
            drop_stale_partitions(conn)
    size = footprint(conn, path, limits).size_bytes
    target = int(limits.max_bytes * limits.prune_to)
    rounds = 0
    while size > limits.max_bytes or (by_size and size > target and rounds < _MAX_ROUNDS):
        rounds += 1
        by_size = True
        fraction = min(1.0, max(0.05, (size - target) / size))
        with _transaction(conn):
            dropped_logs = _drop_oldest(conn, "logs", fraction)
            if dropped_logs:
                logs += dropped_logs
                conn.execute("DELETE FROM log_runs WHERE last_id < "
                             "coalesce((SELECT min(id) FROM logs), 1 << 62)")
            dropped_spans = _drop_oldest(conn, "spans", fraction)
            if dropped_spans:
                spans += dropped_spans
                _forget_dropped_spans(conn)
            metrics += _drop_oldest(conn, "metrics", fraction)
            drop_stale_partitions(conn)
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        size = footprint(conn, path, limits).size_bytes
        if fraction >= 1.0 or rounds >= _MAX_ROUNDS:
            break
    _give_back_pages(conn, path, limits)
    return PruneResult(logs_dropped=logs, spans_dropped=spans, metrics_dropped=metrics,
                       by_age=by_age, by_size=by_size, size_before=before,
                       size_after=footprint(conn, path, limits).size_bytes)


def _forget_dropped_spans(conn: sqlite3.Connection) -> None:
    """Summaries of traces and minutes of route figures older than the oldest span left."""
    oldest = conn.execute("SELECT id, start_ns FROM spans ORDER BY id LIMIT 1").fetchone()
    oldest_id, oldest_start = oldest if oldest else (1 << 62, 1 << 62)
    conn.execute("DELETE FROM traces WHERE last_span_id < ?", (oldest_id,))
    conn.execute("DELETE FROM route_stats WHERE minute < ?", (oldest_start // MINUTE_NS,))


def _drop_oldest(conn: sqlite3.Connection, table: str, fraction: float) -> int:
    count = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    drop = min(count, max(1, round(count * fraction))) if count else 0
    if not drop:
        return 0
    cut = conn.execute(f"SELECT id FROM {table} ORDER BY id LIMIT 1 OFFSET ?",
                       (drop - 1,)).fetchone()[0]
    return _changes(conn, f"DELETE FROM {table} WHERE id <= ?", cut)


def _give_back_pages(conn: sqlite3.Connection, path: Path, limits: StoreLimits) -> None:
    """Shrink a file larger than the bound by releasing free pages (a few per prune)."""
    used = footprint(conn, path, limits)
    if used.file_bytes + used.wal_bytes > limits.max_bytes and used.free_bytes:
        conn.execute(f"PRAGMA incremental_vacuum({_VACUUM_PAGES_PER_PRUNE})").fetchall()


def _changes(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    return conn.execute(sql, params).rowcount


class _transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


def _file_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
