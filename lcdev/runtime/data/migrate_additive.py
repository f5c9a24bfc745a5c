"""The additive migration: when the live schema is known to be exactly what the previous
definition describes, and the new definition only adds to it, the DDL comes from comparing
the two definitions' tables in memory instead of reflecting the database with Alembic.

Sound because the schema's comment names the definition last applied
(``definition_fingerprint``): when it is the previous definition's fingerprint (and every
table is there) the live schema is ``build_metadata(previous)``, the same trust the
no-change check of :mod:`migrate` already places in it. The comment is read again under the
migration lock, so a concurrent migration is noticed.

What counts as adding (anything else returns ``None`` and the full comparison of
:mod:`migrate_apply` decides, as it always did): new tables with their indexes and
constraints (they are empty); on existing tables new columns that are optional, have a
default, or go to an empty table, their foreign keys and rules, and new non-unique indexes.
Every statement is compiled by SQLAlchemy from the same ``build_metadata`` tables, and the
changes are worded and ordered as the full path words them, so a report does not say which
path ran. Alembic is not imported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import sqlalchemy as sa

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data.migrate_errors import MigrationFailed
from lcdev.runtime.data.model import EntityModel, entity_model
from lcdev.runtime.data.naming import SYSTEM_TABLES, quote, schema_name
from lcdev.runtime.data.schema import build_metadata

__all__ = ["AdditivePlan", "Step", "apply_additive", "plan_additive", "schema_comment_sql"]

_DIALECT = sa.engine.make_url("postgresql+asyncpg://").get_dialect()()
"""The full path's dialect: its DDL is sent as it is (a ``%`` in a default stays one)."""


@dataclass(frozen=True)
class Step:
    """One statement of the migration and the change it makes, in plain words."""

    description: str
    sql: str


@dataclass(frozen=True)
class AdditivePlan:
    """The statements that take a schema from the previous definition to the new one."""

    steps: tuple[Step, ...]
    empty_tables: tuple[str, ...] = ()
    """Qualified tables that get a required column without a default: they must be empty
    (otherwise the full path decides, and refuses it as destructive)."""


def schema_comment_sql(schema: str, comment: str) -> str:
    """``COMMENT ON SCHEMA``: the fingerprint of the definition applied (no bind parameters
    in DDL, so the literal is quoted here)."""
    literal = "'" + comment.replace("'", "''") + "'"
    return f"COMMENT ON SCHEMA {quote(schema)} IS {literal}"


def _ddl(element: sa.sql.ClauseElement) -> str:
    return str(element.compile(dialect=_DIALECT)).strip()


def _column_sql(column: sa.Column[Any]) -> str:
    """Name, type, default and NULL-ness as CREATE TABLE would write them."""
    return _ddl(sa.schema.CreateColumn(column))


def _index_step(index: sa.Index, table: sa.Table) -> Step:
    columns = ", ".join(str(getattr(e, "name", e)) for e in index.expressions)
    return Step(f"create index {index.name} on {table.schema}.{table.name} ({columns})",
                _ddl(sa.schema.CreateIndex(index)))


def _new_table(table: sa.Table) -> list[Step]:
    """CREATE TABLE with its constraints inline, then its indexes (as Alembic orders them)."""
    steps = [Step(f"create table {table.schema}.{table.name}", _ddl(sa.schema.CreateTable(table)))]
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        steps.append(_index_step(index, table))
    return steps


@dataclass
class _TableAdditions:
    columns: list[Step]
    indexes: list[Step]
    foreign_keys: list[Step]
    checks: dict[str, Step]
    """Constraint name -> step; added after every other change, as ``plan_checks`` does."""
    needs_empty: bool


def _existing_table(old: sa.Table, new: sa.Table,
                    check_fields: dict[str, str]) -> _TableAdditions | None:
    """What ``new`` adds to ``old``; ``None`` when it changes or removes anything, or adds
    something existing rows could break (a unique constraint or index)."""
    old_columns = {c.name: _column_sql(c) for c in old.columns}
    if any(n not in new.c or _column_sql(new.c[n]) != sql for n, sql in old_columns.items()):
        return None
    where = f"{new.schema}.{new.name}"
    added = [c for c in new.columns if c.name not in old_columns]
    names = {c.name for c in added}
    table_sql = _DIALECT.identifier_preparer.format_table(new)
    result = _TableAdditions(
        columns=[Step(f"add column {where}.{c.name}",
                      f"ALTER TABLE {table_sql} ADD COLUMN {_column_sql(c)}") for c in added],
        indexes=[], foreign_keys=[], checks={},
        needs_empty=any(not c.nullable and c.server_default is None for c in added),
    )
    old_constraints = {_ddl(sa.schema.AddConstraint(c)) for c in old.constraints}
    new_constraints = {_ddl(sa.schema.AddConstraint(c)): c for c in new.constraints}
    if not old_constraints <= new_constraints.keys():
        return None
    for sql, constraint in sorted(new_constraints.items(), key=lambda i: str(i[1].name)):
        if sql in old_constraints:
            continue
        if isinstance(constraint, sa.ForeignKeyConstraint) and set(constraint.column_keys) <= names:
            result.foreign_keys.append(
                Step(f"add foreignkey constraint {constraint.name} to {where}", sql))
        elif (isinstance(constraint, sa.CheckConstraint)
              and check_fields.get(str(constraint.name)) in names):
            field = check_fields[str(constraint.name)]
            result.checks[str(constraint.name)] = Step(
                f"add rule {constraint.sqltext} on {where}.{field}", sql)
        else:
            return None
    old_indexes = {_ddl(sa.schema.CreateIndex(i)) for i in old.indexes}
    new_indexes = {_ddl(sa.schema.CreateIndex(i)): i for i in new.indexes}
    if not old_indexes <= new_indexes.keys():
        return None
    for sql, index in sorted(new_indexes.items(), key=lambda i: str(i[1].name)):
        if sql not in old_indexes:
            if index.unique:
                return None
            result.indexes.append(_index_step(index, new))
    return result


def _new_tables(metadata: sa.MetaData, old: set[str]) -> list[sa.Table] | None:
    """The tables not in ``old``, each after those it refers to (in the order of
    ``MetaData.sorted_tables``, as Alembic creates them); ``None`` when one of them is in a
    cycle of foreign keys, which CREATE TABLE with inline constraints cannot create."""
    ordered = sa.schema.sort_tables_and_constraints(  # type: ignore[no-untyped-call]
        sorted(metadata.tables.values(), key=lambda t: t.key))
    cyclic = {fk.table.key for table, fks in ordered if table is None for fk in fks}
    new = [table for table, _ in ordered if table is not None and table.key not in old]
    return None if any(table.key in cyclic for table in new) else new


_built: dict[int, tuple[ServiceDefinition, sa.MetaData]] = {}


def _metadata(service: ServiceDefinition) -> sa.MetaData:
    """``build_metadata(service)``, kept for the last few definitions: a reload's previous
    definition is the one the reload before it planned for (only read, never changed)."""
    cached = _built.get(id(service))
    if cached is not None and cached[0] is service:
        return cached[1]
    metadata = build_metadata(service)
    if len(_built) >= 4:
        del _built[next(iter(_built))]
    _built[id(service)] = (service, metadata)  # holding the service keeps its id unique
    return metadata


def _same_tables(previous: ServiceDefinition, models: list[EntityModel]) -> set[str]:
    """Tables that need no comparison: a table is built from its entity's definition and
    the schema's name alone, so equal definitions make equal tables (and the system
    tables are the same in every schema)."""
    before = {entity_model(previous, name).table: e for name, e in previous.entities.items()}
    return {m.table for m in models if before.get(m.table) == m.definition} | set(SYSTEM_TABLES)


def plan_additive(previous: ServiceDefinition, new: ServiceDefinition) -> AdditivePlan | None:
    """The statements taking ``build_metadata(previous)`` to ``build_metadata(new)``, or
    ``None`` when that is more than adding (see the module docstring)."""
    if schema_name(previous) != schema_name(new):
        return None
    old_tables = _metadata(previous).tables
    metadata = _metadata(new)
    created = _new_tables(metadata, set(old_tables))
    if created is None or not old_tables.keys() <= metadata.tables.keys():
        return None
    models = [entity_model(new, name) for name in new.entities]
    check_fields = {m.table: {c: f for c, (f, _) in m.checks.items()} for m in models}
    steps = [step for table in created for step in _new_table(table)]
    checks: dict[str, list[Step]] = {}
    empty: list[str] = []
    same = _same_tables(previous, models)
    for table in sorted(metadata.tables.values(), key=lambda t: t.key):
        if table.key not in old_tables or table.name in same:
            continue
        fields = check_fields.get(table.name, {})
        additions = _existing_table(old_tables[table.key], table, fields)
        if additions is None:
            return None
        steps += [*additions.columns, *additions.indexes, *additions.foreign_keys]
        checks[table.name] = [additions.checks[c] for c in fields if c in additions.checks]
        if additions.needs_empty:
            empty.append(_DIALECT.identifier_preparer.format_table(table))
    for model in models:  # rules last, in the order of the entities (as plan_checks does)
        steps += checks.get(model.table, [])
    return AdditivePlan(steps=tuple(steps), empty_tables=tuple(empty))


class _NotPrevious(Exception):
    """The live schema is no longer what the previous definition describes."""


async def apply_additive(conn: asyncpg.Connection, schema: str, plan: AdditivePlan,
                         expected_comment: str, new_comment: str) -> bool:
    """Run ``plan`` in one transaction under the migration lock and record ``new_comment``.

    Returns False (nothing changed) when, under the lock, the schema's comment is no longer
    ``expected_comment`` or a table that gets a required column has rows: the full
    comparison must decide then. Raises ``MigrationFailed`` when the database refuses a
    statement (the transaction is rolled back).
    """
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))",
                               f"lcdev.migrate.{schema}")
            live = await conn.fetchval(
                "SELECT obj_description(to_regnamespace($1), 'pg_namespace')", quote(schema))
            if live != expected_comment:
                raise _NotPrevious
            for table in plan.empty_tables:
                if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                    raise _NotPrevious
            for step in plan.steps:
                try:
                    await conn.execute(step.sql)
                except asyncpg.PostgresError as exc:
                    reason = str(exc).split("\n")[0]
                    raise MigrationFailed(schema, step.description, reason) from exc
            await conn.execute(schema_comment_sql(schema, new_comment))
    except _NotPrevious:
        return False
    return True
