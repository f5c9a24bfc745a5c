"""Database errors of a CRUD write as problem+json: the request was wrong, not the server.

A unique violation is 409 naming the field; a missing referenced row (foreign key) or a
broken rule (check, not-null, a value PostgreSQL cannot store) is 422; deleting a row that
others still reference (``on_delete: restrict``) is 409. By the time these are raised the
transaction has been rolled back: nothing of the request was written.
"""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base

from lcdev.runtime.data import EntityRepository
from lcdev.runtime.problems import ProblemError

__all__ = ["DATABASE_INPUT_ERRORS", "problem_from_database"]

DATABASE_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.DataError,
    asyncpg_base.DataError,
)
"""Errors that mean the input broke a rule of the schema (all others are server errors)."""


def _field(repo: EntityRepository, constraint: str | None, column: str | None) -> str:
    """The body field a constraint (or column) of the entity or one of its children guards."""
    if constraint in repo.model.constraint_fields:
        return repo.model.constraint_fields[constraint]
    for collection, (child, _back_ref) in repo.children.items():
        if constraint in child.model.constraint_fields:
            return f"{collection}.{child.model.constraint_fields[constraint]}"
    return column or ""


def problem_from_database(exc: BaseException, repo: EntityRepository, *,
                          deleting: bool = False) -> ProblemError:
    """The problem to answer for a database error of ``DATABASE_INPUT_ERRORS``."""
    constraint = getattr(exc, "constraint_name", None)
    column = getattr(exc, "column_name", None)
    field = _field(repo, constraint, column)
    entity = repo.entity
    if isinstance(exc, asyncpg.UniqueViolationError):
        return ProblemError(409, f"another {entity} already has this {field or 'value'}",
                            errors=[{"field": field, "message": "is already taken"}])
    if isinstance(exc, asyncpg.ForeignKeyViolationError | asyncpg.RestrictViolationError):
        if deleting:
            table = getattr(exc, "table_name", None) or "other rows"
            return ProblemError(409, f"this {entity} is still referenced by {table} rows;"
                                " delete or change them first")
        return ProblemError(422, "a referenced row does not exist",
                            errors=[{"field": field, "message": "refers to a row that does"
                                     " not exist"}])
    if isinstance(exc, asyncpg.NotNullViolationError):
        return ProblemError(422, "a required value is missing",
                            errors=[{"field": field, "message": "must not be null"}])
    if isinstance(exc, asyncpg.CheckViolationError):
        return ProblemError(422, "a value breaks a rule of the field",
                            errors=[{"field": field, "message": "breaks the rule of this field"}])
    message = str(exc).split("\n")[0]
    return ProblemError(422, f"a value cannot be stored: {message}")
