"""Migrations derived from the definition: ``migrate(dsn, service)`` makes the service's
schema match its entities, then seeds empty tables.

A service start runs it every time, so the common case is fast: the schema's comment holds a
fingerprint of the definition that was last applied; when it matches (and every table is
there) the migration is one query and SQLAlchemy/Alembic are not even imported. Otherwise
Alembic's autogenerate comparison runs (:mod:`migrate_apply`): additive changes are applied,
destructive ones raise :class:`DestructiveChangeRefused` unless ``allow_destructive=True``.

Data on failure: everything runs in one transaction; a refused or failed migration leaves the
schema and its rows exactly as they were. Seeding runs afterwards in its own transaction and
inserts into a table only while it is empty.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import asyncpg
import orjson

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data.migrate_errors import (
    DestructiveChangeRefused,
    MigrationError,
    MigrationFailed,
)
from lcdev.runtime.data.naming import SYSTEM_TABLES, schema_name
from lcdev.runtime.data.seeds import seed_empty_tables

__all__ = [
    "DestructiveChangeRefused",
    "MigrationError",
    "MigrationFailed",
    "MigrationReport",
    "definition_fingerprint",
    "migrate",
]

# Bump when the mapping from definitions to tables changes, so schemas are compared again.
_FORMAT = "lcdev-schema-1"


@dataclass(frozen=True)
class MigrationReport:
    """What a migration did."""

    schema: str
    changes: tuple[str, ...] = ()
    """Every change applied, in plain words (empty when nothing had to change)."""
    destructive: tuple[str, ...] = ()
    """Those of ``changes`` that lose data (applied only with ``allow_destructive``)."""
    seeded: dict[str, int] = field(default_factory=dict)
    """Entity -> seed rows inserted (tables that were empty)."""
    compared: bool = True
    """False when the fingerprint showed the schema already matched (the fast path)."""
    duration_ms: float = 0.0

    @property
    def changed(self) -> bool:
        """True when the schema changed."""
        return bool(self.changes)


def definition_fingerprint(service: ServiceDefinition) -> str:
    """A hash of everything the tables are built from (the entities of the service)."""
    data = service.model_dump(mode="json", include={"name", "entities"})
    digest = hashlib.sha256(orjson.dumps([_FORMAT, data], option=orjson.OPT_SORT_KEYS))
    return f"lcdev:{digest.hexdigest()}"


async def _up_to_date(conn: asyncpg.Connection, schema: str, comment: str,
                      tables: int) -> bool:
    row = await conn.fetchrow(
        "SELECT obj_description(n.oid, 'pg_namespace') AS comment,"
        " (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'r')"
        " AS tables FROM pg_namespace n WHERE n.nspname = $1", schema,
    )
    return row is not None and row["comment"] == comment and row["tables"] == tables


async def migrate(dsn: str, service: ServiceDefinition, *,
                  allow_destructive: bool = False) -> MigrationReport:
    """Make the service's schema match its definition, then seed empty tables.

    Creates the schema when missing. Raises ``DestructiveChangeRefused`` (listing each change
    in plain words) or ``MigrationFailed``; then nothing was changed.
    """
    started = time.perf_counter()
    schema = schema_name(service)
    comment = definition_fingerprint(service)
    tables = len(service.entities) + len(SYSTEM_TABLES)
    changes: list[str] = []
    destructive: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        compared = not await _up_to_date(conn, schema, comment, tables)
        if compared:
            from lcdev.runtime.data.migrate_apply import compare_and_apply

            changes, destructive = await compare_and_apply(
                dsn, service, comment, allow_destructive)
        seeded = await seed_empty_tables(conn, service)
    finally:
        await conn.close()
    return MigrationReport(
        schema=schema, changes=tuple(changes), destructive=tuple(destructive), seeded=seeded,
        compared=compared, duration_ms=(time.perf_counter() - started) * 1000,
    )
