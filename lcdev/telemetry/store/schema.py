"""The store's tables and indexes, and the schema version that guards them.

Every choice here was measured with 1M log lines and 100k spans (benchmarks/bench_telemetry.py):

- ``logs`` rows get their ids from the writer (arrival order, never reused, even after every
  row was pruned: ``meta.next_log_id``), so ``after_id`` follows are exact.
- Log indexes are few (each one cost ~15-25% of ingest) and serve ``ORDER BY id`` directly
  (SQLite appends the rowid to every index entry): ``(service)``, ``(trace_key)`` for lines
  of a trace and ``(level)`` for warn and above (partial: rare rows). ``trace_key`` is the
  first 32 bits of the trace id as an integer: random trace ids scatter index writes over the
  whole b-tree, and a 4-byte key instead of a 32-character one made that ~2x cheaper
  (the query confirms the full id).
- Time has no per-row index (it cost ~20% of ingest): ``log_runs`` keeps the time range of
  each run of up to 1,000 consecutive ids, which turns a time window into an id range and
  makes pruning by age cheap (``logruns.py``).
- Message text is indexed by FTS5 trigram tables with ``detail=none`` (rowids only: a third of
  the size and twice the speed of ``detail=full``; the query is an AND of trigrams and Python
  ``re`` confirms every candidate). The index is written by the writer *after* the rows commit,
  in chunks while it has time (``indexer.py``), and split into partitions of consecutive ids so
  that pruning drops whole partitions instead of deleting every trigram of every old line.
- ``traces`` is a per-trace summary and ``route_stats`` a per-route, per-minute count and
  duration histogram, both kept up to date at write time, so listing traces and route metrics
  never read 100k spans (reading them into Python took ~200 ms here).
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "SCHEMA_VERSION",
    "create_fts_partition",
    "create_schema",
    "fts_table",
    "schema_version",
]

SCHEMA_VERSION = 2

_TABLES = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_log_id', 1), ('next_span_id', 1),
    ('next_metric_id', 1), ('fts_upto', 0);

CREATE TABLE services (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE logs (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    stream TEXT NOT NULL,
    level INTEGER NOT NULL,          -- index into records.LEVELS: trace 0 .. fatal 5
    message TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    attributes BLOB,                 -- JSON (orjson), NULL when there are none
    trace_key INTEGER NOT NULL       -- rows.trace_key(trace_id): 0 without a trace
);
CREATE INDEX logs_service ON logs (service);
CREATE INDEX logs_trace ON logs (trace_key) WHERE trace_key <> 0;
CREATE INDEX logs_warn ON logs (level) WHERE level >= 3;

CREATE TABLE log_runs (
    first_id INTEGER PRIMARY KEY,    -- a run of consecutive log ids ...
    last_id INTEGER NOT NULL,
    min_time_ns INTEGER NOT NULL,    -- ... and the range of their times
    max_time_ns INTEGER NOT NULL,
    rows INTEGER NOT NULL
);

CREATE TABLE fts_parts (
    part INTEGER PRIMARY KEY,        -- table logs_fts_<part>
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL          -- highest log id indexed in it so far
);

CREATE TABLE spans (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    route TEXT NOT NULL,             -- SpanRecord.route: http.route or messaging destination
    attributes BLOB,
    events BLOB
);
CREATE INDEX spans_trace ON spans (trace_id);

CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    span_count INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    services TEXT NOT NULL,          -- ',gateway,orders,': sorted, comma-delimited
    root_orphan INTEGER NOT NULL,    -- 0: the root has no parent; 1: earliest span so far
    root_start_ns INTEGER NOT NULL,
    root_service TEXT NOT NULL,
    root_name TEXT NOT NULL,
    root_route TEXT NOT NULL,
    root_status INTEGER NOT NULL,    -- HTTP status of a request root, 0 otherwise
    last_span_id INTEGER NOT NULL    -- highest spans.id of the trace (pruning)
) WITHOUT ROWID;
CREATE INDEX traces_start ON traces (start_ns);
CREATE INDEX traces_last_span ON traces (last_span_id);

CREATE TABLE route_stats (
    service TEXT NOT NULL,
    route TEXT NOT NULL,
    kind TEXT NOT NULL,              -- server, producer, consumer
    minute INTEGER NOT NULL,         -- span start // 60 s
    topic TEXT NOT NULL,             -- messaging destination (consumer lag is per topic)
    count INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    histogram BLOB NOT NULL,         -- durations: {bucket: count}, see routestats.py
    PRIMARY KEY (service, route, kind, minute)
) WITHOUT ROWID;
CREATE INDEX route_stats_minute ON route_stats (minute);

CREATE TABLE metrics (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL NOT NULL,
    count INTEGER NOT NULL,
    unit TEXT NOT NULL,
    attributes BLOB
);
CREATE INDEX metrics_series ON metrics (name, service, time_ns);
CREATE INDEX metrics_time ON metrics (time_ns);
"""


def fts_table(part: int) -> str:
    """The name of one text-index partition (an integer from our own table, never input)."""
    return f"logs_fts_{int(part)}"


def create_fts_partition(conn: sqlite3.Connection, part: int, first_id: int) -> None:
    conn.execute(
        f"CREATE VIRTUAL TABLE {fts_table(part)} USING fts5(message, content='', "
        "tokenize='trigram', detail=none, columnsize=0)")
    # Merge segments less eagerly than the default (4): fewer rewrites while lines pour in.
    conn.execute(f"INSERT INTO {fts_table(part)} ({fts_table(part)}, rank) "
                 "VALUES ('automerge', 16)")
    conn.execute("INSERT INTO fts_parts (part, first_id, last_id) VALUES (?, ?, ?)",
                 (part, first_id, first_id - 1))


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table on an empty database (one transaction) and stamp the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _split(_TABLES):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _split(script: str) -> list[str]:
    """The statements of a script without comments (``executescript`` would commit first)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
