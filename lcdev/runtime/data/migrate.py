"""Migrations derived from the definition: ``migrate(dsn, service)`` makes the service's
schema match its entities, then seeds empty tables.

A service start runs it every time, so the common case is fast: the schema's comment holds a
fingerprint of the definition that was last applied; when it matches (and every table is
there) the migration is one query and SQLAlchemy/Alembic are not even imported. A reload
passes the definition it replaces (``previous``): when the comment is *its* fingerprint and
the new definition only adds (new entities, optional fields, fields with defaults, indexes),
the statements come from comparing the two definitions in memory (:mod:`migrate_additive`,
no reflection, no Alembic). Otherwise Alembic's autogenerate comparison runs
(:mod:`migrate_apply`), the single judge of everything else: additive changes are applied,
destructive ones raise :class:`DestructiveChangeRefused` unless ``allow_destructive=True``.

Data on failure: everything runs in one transaction; a refused or failed migration leaves the
schema and its rows exactly as they were. Seeding runs afterwards in its own transaction and
inserts into a table only while it is empty.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Literal

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
    "MigrationPath",
    "MigrationReport",
    "definition_fingerprint",
    "migrate",
]

# Bump when the mapping from definitions to tables changes, so schemas are compared again.
_FORMAT = "lcdev-schema-2"  # 2: lcdev_dead_letters.code

MigrationPath = Literal["up_to_date", "additive", "compared"]
"""How the migration knew what to do: the fingerprint matched (nothing to do), the new
definition only adds to the previous one, or Alembic compared the live schema."""


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
    path: MigrationPath = "compared"
    """How the changes were found (see :data:`MigrationPath`)."""
    duration_ms: float = 0.0

    @property
    def changed(self) -> bool:
        """True when the schema changed."""
        return bool(self.changes)

    @property
    def compared(self) -> bool:
        """True when Alembic compared the live schema (neither fast path applied)."""
        return self.path == "compared"


def definition_fingerprint(service: ServiceDefinition) -> str:
    """A hash of everything the tables are built from (the entities of the service)."""
    data = service.model_dump(mode="json", include={"name", "entities"})
    digest = hashlib.sha256(orjson.dumps([_FORMAT, data], option=orjson.OPT_SORT_KEYS))
    return f"lcdev:{digest.hexdigest()}"


def _table_count(service: ServiceDefinition) -> int:
    return len(service.entities) + len(SYSTEM_TABLES)


async def _live_state(conn: asyncpg.Connection, schema: str) -> tuple[str | None, int] | None:
    """The schema's comment and how many tables it has; ``None`` when it does not exist."""
    row = await conn.fetchrow(
        "SELECT obj_description(n.oid, 'pg_namespace') AS comment,"
        " (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind = 'r')"
        " AS tables FROM pg_namespace n WHERE n.nspname = $1", schema,
    )
    return None if row is None else (row["comment"], row["tables"])


async def _add(conn: asyncpg.Connection, previous: ServiceDefinition, applied: str,
               service: ServiceDefinition, comment: str) -> list[str] | None:
    """The changes, when going from ``previous`` (fingerprint ``applied``, the schema's
    comment) to ``service`` only adds; ``None`` (nothing changed) otherwise."""
    from lcdev.runtime.data.migrate_additive import apply_additive, plan_additive

    plan = plan_additive(previous, service)
    if plan is None or not await apply_additive(
            conn, schema_name(service), plan, applied, comment):
        return None
    return [step.description for step in plan.steps]


async def migrate(dsn: str, service: ServiceDefinition, *, allow_destructive: bool = False,
                  previous: ServiceDefinition | None = None) -> MigrationReport:
    """Make the service's schema match its definition, then seed empty tables.

    ``previous`` is the definition the schema was migrated to before (a reload passes the
    one it replaces): when the new one only adds to it, the migration skips the comparison
    with the live schema. Creates the schema when missing. Raises
    ``DestructiveChangeRefused`` (listing each change in plain words) or
    ``MigrationFailed``; then nothing was changed.
    """
    started = time.perf_counter()
    schema = schema_name(service)
    comment = definition_fingerprint(service)
    destructive: list[str] = []
    path: MigrationPath = "up_to_date"
    conn = await asyncpg.connect(dsn)
    try:
        live = await _live_state(conn, schema)
        changes: list[str] | None = [] if live == (comment, _table_count(service)) else None
        if changes is None and previous is not None:
            applied = definition_fingerprint(previous)
            if live == (applied, _table_count(previous)):
                changes = await _add(conn, previous, applied, service, comment)
                path = "additive"
        if changes is None:
            from lcdev.runtime.data.migrate_apply import compare_and_apply

            changes, destructive = await compare_and_apply(
                dsn, service, comment, allow_destructive)
            path = "compared"
        seeded = await seed_empty_tables(conn, service)
    finally:
        await conn.close()
    return MigrationReport(
        schema=schema, changes=tuple(changes), destructive=tuple(destructive), seeded=seeded,
        path=path, duration_ms=(time.perf_counter() - started) * 1000,
    )
