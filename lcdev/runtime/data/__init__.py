"""Data layer of the low-code runtime: tables from entities, migrations, repositories, list
queries and request bodies. See docs/runtime-internals.md for the contracts.

``build_metadata`` (SQLAlchemy) is loaded on first use so a service that only serves
requests does not import SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lcdev.runtime.data.bodies import validate_body, validate_create, validate_update
from lcdev.runtime.data.listquery import Filter, ListQuery, SortKey, parse_list_query
from lcdev.runtime.data.migrate import (
    DestructiveChangeRefused,
    MigrationError,
    MigrationFailed,
    MigrationReport,
    migrate,
)
from lcdev.runtime.data.model import EntityModel, entity_model
from lcdev.runtime.data.naming import schema_name, table_name
from lcdev.runtime.data.repository import (
    Change,
    ChangeKind,
    EntityRepository,
    Page,
    repositories,
)
from lcdev.runtime.data.values import json_default, row_to_json

if TYPE_CHECKING:
    from lcdev.runtime.data.schema import build_metadata

__all__ = [
    "Change",
    "ChangeKind",
    "DestructiveChangeRefused",
    "EntityModel",
    "EntityRepository",
    "Filter",
    "ListQuery",
    "MigrationError",
    "MigrationFailed",
    "MigrationReport",
    "Page",
    "SortKey",
    "build_metadata",
    "entity_model",
    "json_default",
    "migrate",
    "parse_list_query",
    "repositories",
    "row_to_json",
    "schema_name",
    "table_name",
    "validate_body",
    "validate_create",
    "validate_update",
]


def __getattr__(name: str) -> Any:
    if name == "build_metadata":
        from lcdev.runtime.data.schema import build_metadata

        return build_metadata
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
