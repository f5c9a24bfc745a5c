"""Writing records into the tables, inside a transaction the caller holds.

Ids come from ``meta`` (never reused, so a follower's ``after_id`` stays meaningful after
pruning). A batch goes in with one ``executemany``; if SQLite refuses it (a text it cannot
encode, a value out of range) the batch is rolled back to a savepoint and retried row by row
with cleaned text, and a row that still fails is reported to ``on_reject`` and skipped: one
bad record never costs the others.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord
from lcdev.telemetry.store.logruns import note_run
from lcdev.telemetry.store.routestats import update_route_stats
from lcdev.telemetry.store.rows import clean_row, log_row, metric_row, span_row
from lcdev.telemetry.store.tracesum import update_trace_summaries

__all__ = ["Reject", "insert_logs", "insert_metrics", "insert_spans"]

Reject = Callable[[object, BaseException], None]
Row = tuple[Any, ...]
T = TypeVar("T")

_INSERT_LOG = "INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_SPAN = "INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_METRIC = "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ROW_ERRORS = (sqlite3.Error, ValueError, TypeError, OverflowError, UnicodeError)


def insert_logs(conn: sqlite3.Connection, records: Iterable[LogRecord], on_reject: Reject) -> int:
    rows = _rows(conn, "next_log_id", records, log_row, on_reject)
    stored = _insert(conn, _INSERT_LOG, rows, on_reject)
    note_run(conn, stored)
    _note_services(conn, {row[2] for row in stored})
    return len(stored)


def insert_spans(conn: sqlite3.Connection, spans: Iterable[SpanRecord],
                 on_reject: Reject) -> int:
    rows = _rows(conn, "next_span_id", spans, span_row, on_reject)
    stored = _insert(conn, _INSERT_SPAN, rows, on_reject)
    update_trace_summaries(conn, stored)
    update_route_stats(conn, stored)
    _note_services(conn, {row[4] for row in stored})
    return len(stored)


def insert_metrics(conn: sqlite3.Connection, points: Iterable[MetricPoint],
                   on_reject: Reject) -> int:
    rows = _rows(conn, "next_metric_id", points, metric_row, on_reject)
    return len(_insert(conn, _INSERT_METRIC, rows, on_reject))


def _rows(conn: sqlite3.Connection, counter: str, records: Iterable[T],
             to_row: Callable[[T, int], Row], on_reject: Reject) -> list[Row]:
    next_id = int(conn.execute("SELECT value FROM meta WHERE key = ?", (counter,)).fetchone()[0])
    rows: list[Row] = []
    for record in records:
        try:
            rows.append(to_row(record, next_id))
        except Exception as exc:  # noqa: BLE001 - any bad value: skip that record only
            on_reject(record, exc)
            continue
        next_id += 1
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (next_id, counter))
    return rows


def _insert(conn: sqlite3.Connection, sql: str, rows: Sequence[Row], on_reject: Reject
            ) -> Sequence[Row]:
    """Insert ``rows``; the rows actually stored."""
    if not rows:
        return rows
    conn.execute("SAVEPOINT batch")
    try:
        conn.executemany(sql, rows)
    except _ROW_ERRORS:
        conn.execute("ROLLBACK TO batch")
    else:
        conn.execute("RELEASE batch")
        return rows
    conn.execute("RELEASE batch")
    stored: list[Row] = []
    for row in rows:
        cleaned = clean_row(row)
        try:
            conn.execute(sql, cleaned)
        except _ROW_ERRORS as exc:
            on_reject(row, exc)
        else:
            stored.append(cleaned)
    return stored


def _note_services(conn: sqlite3.Connection, names: set[str]) -> None:
    conn.executemany("INSERT OR IGNORE INTO services (name) VALUES (?)",
                     [(name,) for name in names])
