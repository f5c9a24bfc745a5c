"""The full migration: compare the live schema with the definition using Alembic's
autogenerate API and apply the planned changes, all in one transaction.

Imported lazily by :mod:`lcdev.runtime.data.migrate` so a no-op start never pays for
SQLAlchemy and Alembic.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.operations import ops as aops
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data.migrate_errors import DestructiveChangeRefused, MigrationFailed
from lcdev.runtime.data.migrate_plan import PlannedChange, plan_checks, plan_operations
from lcdev.runtime.data.model import entity_model
from lcdev.runtime.data.naming import quote, schema_name
from lcdev.runtime.data.schema import build_metadata

__all__ = ["compare_and_apply"]


def _new_things(upgrade: aops.UpgradeOps) -> tuple[set[str], set[tuple[str, str]]]:
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
    for op in upgrade.ops:
        if isinstance(op, aops.CreateTableOp):
            tables.add(op.table_name)
        elif isinstance(op, aops.ModifyTableOps):
            for sub in op.ops:
                if isinstance(sub, aops.AddColumnOp):
                    columns.add((sub.table_name, str(sub.column.name)))
    return tables, columns


def _migrate_sync(conn: Connection, service: ServiceDefinition, comment: str,
                  allow_destructive: bool) -> tuple[list[str], list[str]]:
    schema = schema_name(service)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                 {"key": f"lcdev.migrate.{schema}"})
    conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    metadata = build_metadata(service)

    def include_name(name: str | None, type_: str, parent: Any) -> bool:
        return name == schema if type_ == "schema" else True

    context = MigrationContext.configure(conn, opts={
        "include_schemas": True, "include_name": include_name, "compare_type": True,
    })
    upgrade = produce_migrations(context, metadata).upgrade_ops
    assert upgrade is not None
    new_tables, new_columns = _new_things(upgrade)
    models = [entity_model(service, name) for name in service.entities]
    check_drops, check_adds = plan_checks(conn, models, new_tables, new_columns)
    plan: list[PlannedChange] = [*check_drops, *plan_operations(conn, upgrade), *check_adds]
    destructive = [change.description for change in plan if change.destructive]
    if destructive and not allow_destructive:
        raise DestructiveChangeRefused(schema, destructive)
    operations = Operations(context)
    for change in plan:
        try:
            change.apply(operations)
        except sa.exc.DBAPIError as exc:
            reason = str(getattr(exc.orig, "args", [exc])[0]).split("\n")[0]
            raise MigrationFailed(schema, change.description, reason) from exc
    live = conn.execute(sa.text("SELECT obj_description(to_regnamespace(:s), 'pg_namespace')"),
                        {"s": quote(schema)}).scalar()
    if live != comment:
        literal = "'" + comment.replace("'", "''") + "'"
        conn.exec_driver_sql(f"COMMENT ON SCHEMA {quote(schema)} IS {literal}")
    return [change.description for change in plan], destructive


async def compare_and_apply(dsn: str, service: ServiceDefinition, comment: str,
                            allow_destructive: bool) -> tuple[list[str], list[str]]:
    """Bring the service's schema to its definition; returns (changes, destructive ones).

    Raises ``DestructiveChangeRefused`` or ``MigrationFailed``; either way the transaction
    is rolled back and the schema is left exactly as it was.
    """
    engine = create_async_engine(
        "postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(dsn), poolclass=NullPool,
    )
    try:
        async with engine.begin() as conn:
            result: tuple[list[str], list[str]] = await conn.run_sync(
                _migrate_sync, service, comment, allow_destructive)
            return result
    finally:
        await engine.dispose()
