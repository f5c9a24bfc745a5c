"""Seed rows: an entity's ``seed:`` rows are inserted when its table is empty.

The definitions model has already checked the rows and converted their values to Python
types; absent fields get their defaults. All seeding of a service is one transaction: a row
the database refuses (say, a ``ref`` to a missing row) raises ``MigrationFailed`` and no seed
row of any entity is written.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data.migrate_errors import MigrationFailed
from lcdev.runtime.data.model import entity_model
from lcdev.runtime.data.repository import EntityRepository

__all__ = ["seed_empty_tables", "seed_rows"]

DATABASE_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


def seed_rows(service: ServiceDefinition, entity: str) -> list[Any]:
    """The entity's declared seed rows (``[]`` when it has none)."""
    rows = getattr(service.entities[entity], "seed", None)
    return list(rows or [])


async def seed_empty_tables(conn: Any, service: ServiceDefinition) -> dict[str, int]:
    """Insert the seed rows of every entity whose table is empty; returns rows per entity."""
    seeded: dict[str, int] = {}
    todo = {name: rows for name in service.entities if (rows := seed_rows(service, name))}
    if not todo:
        return seeded
    async with conn.transaction():
        schema = entity_model(service, next(iter(todo))).schema
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"lcdev.seed.{schema}")
        for name, rows in todo.items():
            repo = EntityRepository(service, name)
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {repo.model.qualified()})"):
                continue
            for i, row in enumerate(rows):
                try:
                    async with conn.transaction():  # a savepoint: name the failing row
                        await repo.insert(conn, dict(row))
                except DATABASE_ERRORS as exc:
                    reason = str(exc).split("\n")[0]
                    raise MigrationFailed(schema, f"seed row {i + 1} of {name}", reason) from exc
            seeded[name] = len(rows)
    return seeded
