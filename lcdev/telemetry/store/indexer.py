"""The text index of log messages, written behind the rows.

Trigram-indexing a line costs several times more than storing it (measured: ~65k lines/s for
the FTS5 table alone against ~170k lines/s for the row and its b-tree indexes), so rows commit
first and the writer indexes them afterwards, in chunks, while it has time. ``meta.fts_upto``
is the highest id indexed; a text search scans the lines above it (normally none; after a
burst, the last few seconds of lines) and uses the index for the rest.

The index is split into partitions (``logs_fts_<n>``) of consecutive ids. Pruning deletes old
rows from ``logs`` only; index entries of deleted rows are harmless (a search joins back to
``logs``) and go when the whole partition they are in is older than the oldest row left,
with one ``DROP TABLE`` instead of deleting every trigram of every line.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from lcdev.telemetry.store.schema import create_fts_partition, fts_table

__all__ = ["Partition", "drop_stale_partitions", "index_pending", "partitions", "unindexed"]


class Partition(NamedTuple):
    part: int
    first_id: int
    last_id: int


def partitions(conn: sqlite3.Connection) -> list[Partition]:
    """Every partition, oldest first."""
    return [Partition(*row) for row in
            conn.execute("SELECT part, first_id, last_id FROM fts_parts ORDER BY part")]


def indexed_upto(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'fts_upto'").fetchone()[0])


def unindexed(conn: sqlite3.Connection) -> int:
    """How many stored lines the text index does not cover yet."""
    row = conn.execute("SELECT count(*) FROM logs WHERE id > ?", (indexed_upto(conn),))
    return int(row.fetchone()[0])


def index_pending(conn: sqlite3.Connection, max_rows: int, rows_per_partition: int) -> int:
    """Index up to ``max_rows`` lines above ``fts_upto`` (the caller holds the transaction);
    how many were indexed."""
    upto = indexed_upto(conn)
    rows = conn.execute("SELECT id, message FROM logs WHERE id > ? ORDER BY id LIMIT ?",
                        (upto, max_rows)).fetchall()
    if not rows:
        return 0
    current = conn.execute(
        "SELECT part, first_id, last_id FROM fts_parts ORDER BY part DESC LIMIT 1").fetchone()
    part = Partition(*current) if current else None
    start = 0
    while start < len(rows):
        if part is None or rows[start][0] >= part.first_id + rows_per_partition:
            number = part.part + 1 if part else 1
            create_fts_partition(conn, number, rows[start][0])
            part = Partition(number, rows[start][0], rows[start][0] - 1)
        end = start
        limit = part.first_id + rows_per_partition
        while end < len(rows) and rows[end][0] < limit:
            end += 1
        conn.executemany(f"INSERT INTO {fts_table(part.part)} (rowid, message) VALUES (?, ?)",
                         rows[start:end])
        conn.execute("UPDATE fts_parts SET last_id = ? WHERE part = ?",
                     (rows[end - 1][0], part.part))
        part = part._replace(last_id=rows[end - 1][0])
        start = end
    conn.execute("UPDATE meta SET value = ? WHERE key = 'fts_upto'", (rows[-1][0],))
    return len(rows)


def drop_stale_partitions(conn: sqlite3.Connection) -> int:
    """Drop partitions whose every line was pruned (the caller holds the transaction);
    how many were dropped. The newest partition stays: new lines go on into it."""
    oldest = conn.execute("SELECT min(id) FROM logs").fetchone()[0]
    known = partitions(conn)
    dropped = 0
    for part in known[:-1]:
        if oldest is None or part.last_id < oldest:
            conn.execute(f"DROP TABLE {fts_table(part.part)}")
            conn.execute("DELETE FROM fts_parts WHERE part = ?", (part.part,))
            dropped += 1
    return dropped
