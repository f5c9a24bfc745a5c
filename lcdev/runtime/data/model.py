"""The stored shape of an entity, computed once from its definition: which fields are columns,
which are child collections, the implicit columns, and which constraint guards which field.

Every other part of the data layer (tables, bodies, list queries, repositories) reads entities
through :class:`EntityModel`, so the rules "a ``list`` field is not a column" or "``id`` is a
uuid" live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from lcdev.definitions import EntityDefinition, FieldDefinition, ServiceDefinition
from lcdev.runtime.data.naming import (
    SYSTEM_TABLES,
    check_name,
    foreign_key_name,
    quote,
    schema_name,
    table_name,
    unique_name,
)

__all__ = [
    "EntityModel", "check_expression", "child_collections", "entity_model", "is_stored",
]

_UUID = FieldDefinition(type="uuid", required=True)
_TIMESTAMP = FieldDefinition(type="datetime", required=True)


def is_stored(definition: FieldDefinition) -> bool:
    """True when the field is a column (a ``list`` of children lives in the child's table)."""
    return definition.is_column


def child_collections(entity: EntityDefinition) -> dict[str, tuple[str, str]]:
    """``{field: (child entity, back-reference field)}`` of the entity's ``list`` fields
    (resolved by the ``ServiceDefinition`` that holds the entity)."""
    return entity.child_collections()


@dataclass(frozen=True)
class EntityModel:
    """How one entity is stored: its table, its columns and what guards them."""

    service: ServiceDefinition
    name: str
    definition: EntityDefinition
    schema: str
    table: str
    declared: dict[str, FieldDefinition]
    """The declared fields that are columns, in declaration order."""
    columns: dict[str, FieldDefinition]
    """Every column: ``id``, the declared ones, then ``created_at``/``updated_at``."""
    children: dict[str, tuple[str, str]]
    """Child collections: ``{field: (child entity, back-reference field of the child)}``."""
    constraint_fields: dict[str, str] = field(default_factory=dict)
    """Constraint name -> the field it guards (for error messages)."""
    checks: dict[str, tuple[str, str]] = field(default_factory=dict)
    """CHECK constraint name -> (field, SQL expression): enum values and min/max bounds."""

    @property
    def timestamps(self) -> bool:
        """True when the table has ``created_at`` and ``updated_at``."""
        return self.definition.timestamps

    @property
    def json_columns(self) -> frozenset[str]:
        """Columns of type json (sent and read as text so any connection codec works)."""
        return frozenset(n for n, f in self.columns.items() if f.type == "json")

    def qualified(self) -> str:
        """``"schema"."table"``."""
        return f'"{self.schema}"."{self.table}"'


_CACHE_SIZE = 512
_cache: dict[tuple[int, str], tuple[ServiceDefinition, EntityModel]] = {}


def entity_model(service: ServiceDefinition, name: str) -> EntityModel:
    """The stored shape of ``service.entities[name]`` (computed once per service object and
    entity); raises ``ValueError`` when its table name would clash with a system table."""
    key = (id(service), name)
    cached = _cache.get(key)
    if cached is not None and cached[0] is service:
        return cached[1]
    model = _build(service, name)
    if len(_cache) >= _CACHE_SIZE:  # a reloaded definition is a new object: forget old ones
        del _cache[next(iter(_cache))]
    _cache[key] = (service, model)  # holding the service keeps its id from being reused
    return model


def _build(service: ServiceDefinition, name: str) -> EntityModel:
    entity = service.entities[name]
    table = table_name(name)
    if table in SYSTEM_TABLES:
        raise ValueError(f"entity '{name}': table name '{table}' is reserved for lcdev")
    declared = {n: f for n, f in entity.fields.items() if is_stored(f)}
    columns: dict[str, FieldDefinition] = {"id": _UUID, **declared}
    if entity.timestamps:
        columns.update(created_at=_TIMESTAMP, updated_at=_TIMESTAMP)
    constraints: dict[str, str] = {}
    checks: dict[str, tuple[str, str]] = {}
    for fname, f in declared.items():
        expression = check_expression(fname, f)
        if expression is not None:
            cname = check_name(table, fname, expression)
            checks[cname] = (fname, expression)
            constraints[cname] = fname
        if f.unique:
            constraints[unique_name(table, fname)] = fname
        if f.type == "ref":
            constraints[foreign_key_name(table, fname)] = fname
    return EntityModel(
        service=service, name=name, definition=entity, schema=schema_name(service),
        table=table, declared=declared, columns=columns, children=child_collections(entity),
        constraint_fields=constraints, checks=checks,
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> str:
    return format(Decimal(str(value)), "f")


def check_expression(name: str, definition: FieldDefinition) -> str | None:
    """The SQL CHECK of a field (enum values, min and max), or None when it has none."""
    column = quote(name)
    if definition.type == "enum":
        values = ", ".join(_literal(v) for v in definition.values or [])
        return f"{column} IN ({values})"
    parts = []
    if definition.min is not None:
        parts.append(f"{column} >= {_number(definition.min)}")
    if definition.max is not None:
        parts.append(f"{column} <= {_number(definition.max)}")
    return " AND ".join(parts) or None
