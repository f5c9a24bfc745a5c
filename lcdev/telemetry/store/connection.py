"""Opening the store's SQLite file: the writer's connection (creates or resets the schema)
and readers' read-only connections (never change the file, never block the writer).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import quote

from lcdev.telemetry.store.schema import SCHEMA_VERSION, create_schema, schema_version
from lcdev.telemetry.store.types import StoreUnavailable

__all__ = ["open_reader", "open_writer", "remove_database"]

_BUSY_TIMEOUT_S = 5.0
_WAL_LIMIT_BYTES = 64 * 1024 * 1024  # the WAL file is cut back to this after a checkpoint


def open_writer(path: Path) -> sqlite3.Connection:
    """The one writable connection, with a current schema.

    A file of another schema version, or one that is not a database at all, is deleted and
    created anew: telemetry is disposable and must never stop the supervisor. (Readers that
    still hold the old file keep reading it until they reopen.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = _connect_writable(path)
        version = schema_version(conn)
        if version == SCHEMA_VERSION:
            return conn
        if version == 0 and not _has_tables(conn):
            create_schema(conn)
            return conn
        conn.close()
    except sqlite3.DatabaseError:
        pass
    remove_database(path)
    conn = _connect_writable(path)
    create_schema(conn)
    return conn


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; :class:`StoreUnavailable` when there is no usable store."""
    if not path.is_file():
        raise StoreUnavailable(f"no telemetry store at {path}")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT_S,
                               check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA cache_size = -32000")
        conn.execute("PRAGMA mmap_size = 268435456")
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreUnavailable(f"cannot read the telemetry store {path}: {exc}") from exc
    if version != SCHEMA_VERSION:
        conn.close()
        raise StoreUnavailable(
            f"the telemetry store {path} has schema version {version}, this lcdev reads "
            f"{SCHEMA_VERSION}; the supervisor recreates it when it starts")
    return conn


def remove_database(path: Path) -> None:
    """Delete the database file and its WAL and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _connect_writable(path: Path) -> sqlite3.Connection:
    # Opened by the thread that starts the writer, used by the writer thread only.
    conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_S,
                           check_same_thread=False)
    # Freed pages can be handed back to the file system a few at a time (incremental_vacuum);
    # only takes effect on a new file, before the first table.
    conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    # This SQLite build zeroes deleted content by default: pointless here, and costs writes.
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("PRAGMA cache_size = -32000")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
    return conn


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
