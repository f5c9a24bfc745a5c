"""Answering a :class:`LogQuery` in arrival order (``logs.id``).

Without ``grep`` it is one SQL statement; the indexes in ``schema.py`` let SQLite walk ids in
order and stop at ``limit``. With ``grep`` the pattern is compiled with Python ``re`` and
registered as an SQL function, so only matching rows leave SQLite; the lines it reads are:

1. with text the pattern requires (``textsearch.required_text``): the lines the text index
   has not covered yet (a scan, normally empty), and each index partition in order, candidates
   from an FTS5 ``MATCH`` joined back to ``logs``;
2. without: every line the other filters select, in order, until ``limit`` matches — a scan,
   quick for recent lines or narrow filters, seconds for a rare match in millions of lines.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from lcdev.telemetry.records import LogRecord
from lcdev.telemetry.store.indexer import indexed_upto, partitions
from lcdev.telemetry.store.logruns import id_range
from lcdev.telemetry.store.rows import LEVEL_NUMBER, decode_log, trace_key
from lcdev.telemetry.store.schema import fts_table
from lcdev.telemetry.store.textsearch import fts_query, required_text
from lcdev.telemetry.store.types import LogQuery

__all__ = ["query_logs"]

_COLUMNS = ", ".join(f"l.{name}" for name in (
    "id", "time_ns", "service", "stream", "level", "message", "trace_id", "span_id",
    "attributes"))
_GREP_FUNCTION = "lcdev_grep"


def query_logs(conn: sqlite3.Connection, query: LogQuery) -> list[LogRecord]:
    """The matching lines (see :class:`LogQuery`); ``re.error`` for a bad ``grep``."""
    if query.limit <= 0:
        return []
    ids = None
    if query.since_ns is not None or query.until_ns is not None:
        ids = id_range(conn, query.since_ns, query.until_ns)
        if ids is None:
            return []
    where, params = _filters(query, ids)
    order = "DESC" if query.newest_first else "ASC"
    if query.grep is None:
        sql = f"SELECT {_COLUMNS} FROM logs l WHERE {where} ORDER BY l.id {order} LIMIT ?"
        return [decode_log(row) for row in conn.execute(sql, (*params, query.limit))]
    pattern = re.compile(query.grep)
    conn.create_function(_GREP_FUNCTION, 1, lambda text: pattern.search(text) is not None,
                         deterministic=True)
    where = f"{where} AND {_GREP_FUNCTION}(l.message)"
    found: list[LogRecord] = []
    for sql, sql_params in _grep_sources(conn, query, where, params, order):
        rows = conn.execute(sql, (*sql_params, query.limit - len(found)))
        found.extend(decode_log(row) for row in rows)
        if len(found) >= query.limit:
            break
    return found


def _filters(query: LogQuery, ids: tuple[int, int] | None) -> tuple[str, list[Any]]:
    clauses = ["1"]
    params: list[Any] = []
    if ids is not None:  # the lines timed within since/until are in this id range
        clauses.append("l.id BETWEEN ? AND ?")
        params.extend(ids)
    if query.services:
        clauses.append(f"l.service IN ({','.join('?' * len(query.services))})")
        params.extend(query.services)
    if query.min_level is not None and LEVEL_NUMBER[query.min_level] > 0:
        clauses.append("l.level >= ?")
        params.append(LEVEL_NUMBER[query.min_level])
    if query.trace_id is not None:
        trace_id = query.trace_id.strip().lower()
        # "<> 0" lets SQLite use the partial index
        clauses.append("l.trace_key = ? AND l.trace_key <> 0 AND l.trace_id = ?")
        params.extend([trace_key(trace_id) if trace_id else 0, trace_id])
    if query.since_ns is not None:
        clauses.append("l.time_ns >= ?")
        params.append(query.since_ns)
    if query.until_ns is not None:
        clauses.append("l.time_ns <= ?")
        params.append(query.until_ns)
    if query.after_id is not None:
        clauses.append("l.id > ?")
        params.append(query.after_id)
    return " AND ".join(clauses), params


def _grep_sources(conn: sqlite3.Connection, query: LogQuery, where: str, params: list[Any],
                  order: str) -> Iterator[tuple[str, list[Any]]]:
    """SQL statements (each ending in ``LIMIT ?``) whose results, concatenated, are the
    matches in the asked order."""
    requirement = required_text(query.grep or "")
    if requirement is None:
        yield (f"SELECT {_COLUMNS} FROM logs l WHERE {where} ORDER BY l.id {order} LIMIT ?",
               params)
        return
    upto = indexed_upto(conn)
    match = fts_query(requirement)
    low = query.after_id or 0
    tail = (f"SELECT {_COLUMNS} FROM logs l WHERE l.id > ? AND {where} "
            f"ORDER BY l.id {order} LIMIT ?", [upto, *params])
    indexed = []
    for part in partitions(conn):
        first, last = max(part.first_id, low + 1), min(part.last_id, upto)
        if first > last:
            continue
        table = fts_table(part.part)
        indexed.append((
            f"SELECT {_COLUMNS} FROM {table} f JOIN logs l ON l.id = f.rowid "
            f"WHERE {table} MATCH ? AND f.rowid BETWEEN ? AND ? AND {where} "
            f"ORDER BY f.rowid {order} LIMIT ?", [match, first, last, *params]))
    if order == "DESC":
        yield tail
        yield from reversed(indexed)
    else:
        yield from indexed
        yield tail
