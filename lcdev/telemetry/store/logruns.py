"""Runs of consecutive log ids with the range of their times: a sparse time index.

A per-row index on ``time_ns`` cost a fifth of the ingest rate. Lines arrive roughly in time
order, so a run of ~1,000 consecutive ids covers a short stretch of time; a time window then
becomes the id range of the runs that overlap it (exact: every line in the window lies in
such a run, whatever order lines arrived in), and age pruning deletes whole runs. A run also
ends when it would cover more than ten minutes, so that a quiet service's lines still age out
close to their time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["RUN_ROWS", "expired_runs", "id_range", "note_run", "time_range"]

RUN_ROWS = 1000  # a run grows until it holds this many lines ...
RUN_SPAN_NS = 600 * 10**9  # ... or covers this much time (age pruning is exact to that)


def note_run(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Record stored log rows (``logs`` column order, ascending ids) in the newest run."""
    if not rows:
        return
    times = [row[1] for row in rows]
    low, high, first, last = min(times), max(times), rows[0][0], rows[-1][0]
    current = conn.execute("SELECT first_id, rows, min_time_ns, max_time_ns FROM log_runs "
                           "ORDER BY first_id DESC LIMIT 1").fetchone()
    if (current is not None and current[1] < RUN_ROWS
            and max(high, current[3]) - min(low, current[2]) <= RUN_SPAN_NS):
        conn.execute("UPDATE log_runs SET last_id = ?, min_time_ns = min(min_time_ns, ?), "
                     "max_time_ns = max(max_time_ns, ?), rows = rows + ? WHERE first_id = ?",
                     (last, low, high, len(rows), current[0]))
    else:
        conn.execute("INSERT INTO log_runs VALUES (?, ?, ?, ?, ?)",
                     (first, last, low, high, len(rows)))


def id_range(conn: sqlite3.Connection, since_ns: int | None,
             until_ns: int | None) -> tuple[int, int] | None:
    """The ids that may hold lines timed within the window; ``None`` when none can."""
    row = conn.execute(
        "SELECT min(first_id), max(last_id) FROM log_runs "
        "WHERE max_time_ns >= ? AND min_time_ns <= ?",
        (-(2**63) if since_ns is None else since_ns,
         2**63 - 1 if until_ns is None else until_ns)).fetchone()
    return None if row[0] is None else (int(row[0]), int(row[1]))


def expired_runs(conn: sqlite3.Connection, cutoff_ns: int) -> list[tuple[int, int]]:
    """(first, last) ids of the runs whose every line is older than ``cutoff_ns``."""
    return [(int(first), int(last)) for first, last in conn.execute(
        "SELECT first_id, last_id FROM log_runs WHERE max_time_ns < ?", (cutoff_ns,))]


def time_range(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
    """Oldest and newest line time (of the runs: after a prune by size, roughly)."""
    low, high = conn.execute("SELECT min(min_time_ns), max(max_time_ns) FROM log_runs").fetchone()
    return low, high
