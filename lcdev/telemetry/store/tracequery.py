"""Listing traces (from the summaries) and reading one trace whole, by id or id prefix."""

from __future__ import annotations

import sqlite3
from typing import Any

from lcdev.telemetry.store.logquery import query_logs
from lcdev.telemetry.store.rows import SPAN_COLUMNS, decode_span
from lcdev.telemetry.store.types import LogQuery, TraceDetail, TraceQuery, TraceSummary

__all__ = ["get_trace", "list_traces", "match_trace_ids"]

_SUMMARY_COLUMNS = ("trace_id, root_service, root_name, root_route, start_ns, "
                    "end_ns - start_ns, span_count, services, errors, root_status")
_HEX = frozenset("0123456789abcdef")
_TRACE_LOG_LIMIT = 10_000


def list_traces(conn: sqlite3.Connection, query: TraceQuery) -> list[TraceSummary]:
    """Newest first by start; see :class:`TraceQuery` for the filters."""
    clauses = ["1"]
    params: list[Any] = []
    if query.service:
        clauses.append("instr(services, ?) > 0")
        params.append(f",{query.service},")
    if query.route:
        clauses.append("(root_route = ? OR root_name = ? OR substr(root_name, -?) = ?)")
        params.extend([query.route, query.route, len(query.route) + 1, f" {query.route}"])
    if query.min_duration_ns is not None:
        clauses.append("end_ns - start_ns >= ?")
        params.append(query.min_duration_ns)
    if query.errors_only:
        clauses.append("errors > 0")
    if query.since_ns is not None:
        clauses.append("start_ns >= ?")
        params.append(query.since_ns)
    sql = (f"SELECT {_SUMMARY_COLUMNS} FROM traces INDEXED BY traces_start "
           f"WHERE {' AND '.join(clauses)} ORDER BY start_ns DESC LIMIT ?")
    return [_summary(row) for row in conn.execute(sql, (*params, max(0, query.limit)))]


def match_trace_ids(conn: sqlite3.Connection, prefix: str, limit: int = 10) -> list[str]:
    """Stored trace ids that start with ``prefix`` (case and spaces ignored), sorted."""
    prefix = prefix.strip().lower()
    if not prefix or not set(prefix) <= _HEX:
        return []
    rows = conn.execute("SELECT trace_id FROM traces WHERE trace_id >= ? AND trace_id < ? "
                        "ORDER BY trace_id LIMIT ?", (prefix, prefix + "g", limit))
    return [row[0] for row in rows]


def get_trace(conn: sqlite3.Connection, trace_id_or_prefix: str) -> TraceDetail | None:
    """The trace with that id, or the one trace whose id starts with it; ``None`` when no
    trace or several match."""
    found = match_trace_ids(conn, trace_id_or_prefix, limit=2)
    if len(found) != 1:
        return None
    trace_id = found[0]
    spans = tuple(decode_span(row) for row in conn.execute(
        f"SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, id",
        (trace_id,)))
    logs = query_logs(conn, LogQuery(trace_id=trace_id, limit=_TRACE_LOG_LIMIT))
    return TraceDetail(trace_id=trace_id, spans=spans,
                       logs=tuple(sorted(logs, key=lambda log: (log.time_ns, log.id))))


def _summary(row: tuple[Any, ...]) -> TraceSummary:
    services = tuple(name for name in row[7].split(",") if name)
    return TraceSummary(trace_id=row[0], root_service=row[1], root_name=row[2],
                        root_route=row[3], start_ns=row[4], duration_ns=max(0, row[5]),
                        span_count=row[6], services=services, error=row[8] > 0,
                        root_status=row[9])
