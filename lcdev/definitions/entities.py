"""Entities: typed records a low-code service owns, with indexes, relations and CRUD exposure.

Every entity gets an implicit ``id`` (uuid primary key) and, unless ``timestamps: false``,
``created_at`` and ``updated_at``. Relations are fields of type ``ref`` to another entity of the
same service; a ``list`` field is a child collection (the rows of another entity referring back).
``seed`` rows are inserted by the runtime when the entity's table is empty.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, PrivateAttr, model_validator

from lcdev.definitions.common import DefinitionModel, FieldName, ShortForm
from lcdev.definitions.fields import FieldDefinition, FieldMap
from lcdev.definitions.issues import Issues
from lcdev.definitions.problems import did_you_mean
from lcdev.definitions.seeds import check_seed

__all__ = [
    "CRUD_OPERATIONS",
    "CrudOperation",
    "EntityDefinition",
    "IndexDefinition",
    "back_refs",
    "plural_path",
]

CrudOperation = Literal["list", "get", "create", "update", "delete"]
CRUD_OPERATIONS: tuple[CrudOperation, ...] = get_args(CrudOperation)
IMPLICIT_FIELDS = ("id", "created_at", "updated_at")
ENTITY_PATH = re.compile(r"^(/[a-z0-9][a-z0-9._-]*)+$")
RESERVED_SEGMENTS = ("openapi.json", "asyncapi.json")


def _expand_crud(value: Any) -> Any:
    if value == "all":
        return list(CRUD_OPERATIONS)
    if value == "none":
        return []
    if isinstance(value, str):
        raise ValueError(
            f"expected 'all', 'none' or a list of {', '.join(CRUD_OPERATIONS)}, found '{value}'"
            + did_you_mean(value, ["all", "none", *CRUD_OPERATIONS])
        )
    return value


CrudSpec = Annotated[
    tuple[CrudOperation, ...],
    ShortForm(
        _expand_crud,
        {"type": "string", "enum": ["all", "none"], "description": "All or none of the ops."},
    ),
]


def _expand_index(value: Any) -> Any:
    return {"fields": value} if isinstance(value, list) else value


class IndexDefinition(DefinitionModel):
    """A database index over one or more fields; a plain list of field names is the short form."""

    fields: list[FieldName] = Field(min_length=1, description="Fields indexed, in order.")
    unique: bool = Field(False, description="No two rows may share these values.")
    name: str | None = Field(None, description="Index name; derived from the fields if omitted.")


IndexSpec = Annotated[
    IndexDefinition,
    ShortForm(
        _expand_index,
        {"type": "array", "items": {"type": "string"}, "description": "Fields of the index."},
    ),
]


def plural_path(entity: str) -> str:
    """``OrderLine`` -> ``order-lines``: the collection path segment of an entity."""
    words = re.sub(r"(?<!^)(?=[A-Z])", "-", entity).lower()
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    if words.endswith(("s", "x", "ch", "sh")):
        return words + "es"
    return words + "s"


def back_refs(child: EntityDefinition, parent: str) -> list[str]:
    """The ``ref`` fields of ``child`` pointing at the entity named ``parent``."""
    return [name for name, f in child.fields.items() if f.type == "ref" and f.entity == parent]


class EntityDefinition(DefinitionModel):
    """A record type stored in the service's own Postgres schema and exposed over REST."""

    description: str | None = Field(None, description="What the entity is (shown in OpenAPI).")
    fields: FieldMap = Field(
        default_factory=dict, description="Field name -> type (short form) or field mapping."
    )
    indexes: list[IndexSpec] = Field(
        default_factory=list, description="Extra indexes: [a, b] or {fields: [a, b], unique: true}."
    )
    timestamps: bool = Field(True, description="Add created_at and updated_at automatically.")
    crud: CrudSpec = Field(
        CRUD_OPERATIONS,
        description="REST operations generated: all, none, or a list of list, get, create,"
        " update, delete.",
    )
    path: str | None = Field(
        None,
        description="Collection path relative to the service route (/lines -> /orders/lines);"
        " default: the plural in kebab case (OrderLine -> /order-lines).",
    )
    seed: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Rows (field -> value) inserted by the runtime when the table is empty.",
    )
    _children: dict[str, tuple[str, str]] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _consistent(self) -> EntityDefinition:
        issues = Issues()
        reserved = IMPLICIT_FIELDS if self.timestamps else IMPLICIT_FIELDS[:1]
        for name in self.fields:
            if name in reserved:
                message = (
                    "this name is reserved (every entity gets it automatically)" if name == "id"
                    else "this name is reserved (added automatically unless timestamps: false)"
                )
                issues.add(message, "fields", name)
        for i, index in enumerate(self.indexes):
            for j, name in enumerate(index.fields):
                if name not in self.fields and name not in reserved:
                    issues.add(
                        f"unknown field '{name}'" + did_you_mean(name, self.fields),
                        "indexes", i, "fields", j,
                    )
                elif name in self.fields and not self.fields[name].is_column:
                    issues.add(f"field '{name}' is a child collection, not a column",
                               "indexes", i, "fields", j)
        if len(set(self.crud)) != len(self.crud):
            issues.add("crud lists an operation twice", "crud")
        if self.path is not None:
            if not ENTITY_PATH.match(self.path):
                issues.add(
                    "path must be segments of lower-case letters, digits, '.', '_' or '-' below"
                    f" the route, like '/lines', found '{self.path}'",
                    "path",
                )
            elif self.path.split("/")[1] in RESERVED_SEGMENTS:
                issues.add(f"path '{self.path}' is reserved by lcdev", "path")
        seed = check_seed(self.fields, self.seed, issues) if self.seed else []
        issues.raise_if_any()
        return self.model_copy(update={"seed": seed}) if seed != self.seed else self

    def all_field_names(self) -> list[str]:
        """Declared fields (child collections included) plus the implicit ones."""
        implicit = IMPLICIT_FIELDS if self.timestamps else IMPLICIT_FIELDS[:1]
        return [*implicit, *self.fields]

    def columns(self) -> dict[str, FieldDefinition]:
        """The declared fields stored as columns of the entity's table: all but ``list`` fields.

        The implicit ``id``, ``created_at`` and ``updated_at`` are not included.
        """
        return {name: f for name, f in self.fields.items() if f.is_column}

    def child_collections(self) -> dict[str, tuple[str, str]]:
        """``list`` field -> (child entity, the child's ref field pointing back at this entity).

        Resolved by the :class:`ServiceDefinition` holding the entity. A list field whose child
        has no single back-ref (a problem reported by the workspace checks) is left out.
        """
        if self._children is None:
            if any(not f.is_column for f in self.fields.values()):
                raise LookupError(
                    "child collections are resolved by the ServiceDefinition holding the entity"
                )
            return {}
        return dict(self._children)

    def bind_children(self, children: dict[str, tuple[str, str]]) -> None:
        """Record the resolved child collections (called by :class:`ServiceDefinition`)."""
        self._children = dict(children)
