"""Typed fields of entities and event payloads, in a one-line short form or a full mapping.

Short form: ``type[(args)][!][ = default]`` — ``string``, ``uuid!``, ``decimal(12, 2)``,
``string(80)!``, ``enum(new, paid) = new``, ``ref(Order)!``, ``list(OrderLine)``. ``!`` means
required. A ``list`` field is not a column: it is the collection of child rows of another entity
that refers back to this one (see :meth:`EntityDefinition.child_collections`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from lcdev.definitions.common import DefinitionModel, EntityName, FieldName, ShortForm
from lcdev.definitions.issues import Issues
from lcdev.definitions.problems import did_you_mean
from lcdev.definitions.values import check_value

__all__ = [
    "FIELD_TYPES",
    "LIST_ELSEWHERE",
    "FieldDefinition",
    "FieldMap",
    "FieldSpec",
    "FieldType",
    "OnDelete",
]

FieldType = Literal[
    "string", "text", "integer", "decimal", "boolean", "uuid", "datetime", "date", "enum",
    "json", "ref", "list",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
OnDelete = Literal["cascade", "restrict", "set_null"]

_SHORT = re.compile(
    r"^\s*(?P<type>[A-Za-z_]+)\s*(?:\((?P<args>[^)]*)\))?\s*(?P<req>!)?\s*(?:=\s*(?P<default>.*?))?\s*$"
)
LIST_ELSEWHERE = (
    "'list' fields are child collections of entities; use 'json' for an array here"
)
_NUMERIC = ("integer", "decimal")
_TEXTUAL = ("string", "text")


def _unknown_type(name: str) -> ValueError:
    return ValueError(f"unknown type '{name}'{did_you_mean(name, FIELD_TYPES)}")


def expand_field(value: Any) -> Any:
    """Turn a short form such as ``enum(new, paid)! = new`` into the full mapping."""
    if not isinstance(value, str):
        return value
    match = _SHORT.match(value)
    if match is None:
        raise ValueError(
            f"cannot read field '{value}': expected a type such as 'string', 'integer!',"
            " 'decimal(12, 2)' or 'enum(new, paid) = new'"
        )
    ftype = match.group("type")
    if ftype not in FIELD_TYPES:
        raise _unknown_type(ftype)
    full: dict[str, Any] = {"type": ftype}
    args = [a.strip() for a in (match.group("args") or "").split(",") if a.strip()]
    if match.group("args") is not None:
        full.update(_short_args(ftype, args))
    if match.group("req"):
        full["required"] = True
    if match.group("default") is not None:
        full["default"] = match.group("default").strip("'\"")
    return full


def _short_args(ftype: str, args: list[str]) -> dict[str, Any]:
    if ftype == "enum":
        return {"values": args}
    if ftype in ("ref", "list") and len(args) == 1:
        return {"entity": args[0]}
    if ftype == "decimal" and len(args) in (1, 2) and all(a.isdigit() for a in args):
        return dict(zip(("precision", "scale"), map(int, args), strict=False))
    if ftype in _TEXTUAL and len(args) == 1 and args[0].isdigit():
        return {"max_length": int(args[0])}
    forms = {
        "enum": "enum(a, b)", "ref": "ref(Entity)", "list": "list(Entity)",
        "decimal": "decimal(precision, scale)",
        "string": "string(max_length)", "text": "text(max_length)",
    }
    hint = f"; write {forms[ftype]}" if ftype in forms else f"; '{ftype}' takes no arguments"
    raise ValueError(f"cannot read arguments ({', '.join(args)}) of type '{ftype}'{hint}")


class FieldDefinition(DefinitionModel):
    """One typed field with its constraints."""

    type: FieldType = Field(description="The value type of the field.")
    description: str | None = Field(None, description="What the field means (shown in OpenAPI).")
    required: bool = Field(False, description="A value must be given (and is never null).")
    default: Any = Field(
        None, description="Value used when none is given; 'now' for date and datetime fields."
    )
    unique: bool = Field(False, description="No two rows may hold the same value.")
    index: bool = Field(False, description="Create a database index on this field.")
    min: float | None = Field(None, description="Smallest allowed value (integer, decimal).")
    max: float | None = Field(None, description="Largest allowed value (integer, decimal).")
    min_length: int | None = Field(None, ge=0, description="Shortest length (string, text).")
    max_length: int | None = Field(None, ge=1, description="Longest length (string, text).")
    pattern: str | None = Field(None, description="Regular expression the value must match.")
    precision: int | None = Field(None, ge=1, le=1000, description="Total digits (decimal).")
    scale: int | None = Field(None, ge=0, description="Digits after the point (decimal).")
    values: list[str] | None = Field(None, description="The allowed values (enum).")
    entity: EntityName | None = Field(
        None,
        description="The entity of the same service this field refers to (ref), or whose rows"
        " it holds (list).",
    )
    min_items: int | None = Field(None, ge=0, description="Fewest child rows (list).")
    max_items: int | None = Field(None, ge=1, description="Most child rows (list).")
    on_delete: OnDelete = Field(
        "restrict", description="What happens to this row when the referenced row is deleted."
    )
    json_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON Schema the value must satisfy (json)."
    )

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in FIELD_TYPES:
            raise _unknown_type(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FieldDefinition:
        issues = Issues()
        t = self.type
        only = {
            "values": ("enum",), "entity": ("ref", "list"), "on_delete": ("ref",),
            "min_items": ("list",), "max_items": ("list",),
            "min": _NUMERIC, "max": _NUMERIC, "min_length": _TEXTUAL, "max_length": _TEXTUAL,
            "pattern": _TEXTUAL, "precision": ("decimal",), "scale": ("decimal",),
            "json_schema": ("json",),
        }
        for name, types in only.items():
            if name in self.model_fields_set and t not in types:
                key = "schema" if name == "json_schema" else name
                issues.add(f"'{key}' applies only to {' or '.join(types)} fields", key)
        if t == "enum" and not self.values:
            issues.add("an enum needs its 'values', e.g. enum(new, paid)")
        if self.values and len(set(self.values)) != len(self.values):
            issues.add("enum values must be unique", "values")
        if t in ("ref", "list") and self.entity is None:
            example = "ref(Order)" if t == "ref" else "list(OrderLine)"
            issues.add(f"a {t} needs its 'entity', e.g. {example}")
        if self.unique and t in ("json", "list"):
            issues.add(f"{t} fields cannot be unique", "unique")
        if self.index and t == "list":
            issues.add("a list field is not a column and cannot be indexed", "index")
        _check_pair(issues, self.min, self.max, "min", "max")
        _check_pair(issues, self.min_length, self.max_length, "min_length", "max_length")
        _check_pair(issues, self.min_items, self.max_items, "min_items", "max_items")
        if self.precision is not None and self.scale is not None and self.scale > self.precision:
            issues.add(f"scale {self.scale} is larger than precision {self.precision}", "scale")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                issues.add(f"invalid regular expression: {exc}", "pattern")
        default = self.default
        if default is not None and not issues:
            if t in ("ref", "list"):
                issues.add(f"a {t} field cannot have a default", "default")
            else:
                default, problems = check_value(self, default, "default")
                for problem in problems:
                    issues.add(problem, "default")
        issues.raise_if_any()
        return self if default == self.default else self.model_copy(update={"default": default})

    @property
    def is_column(self) -> bool:
        """False for ``list`` fields (child collections), which are stored in the child table."""
        return self.type != "list"

    def storage_column(self, name: str) -> str:
        """The column name of this field: the field name, refs included (``order`` -> ``order``)."""
        return name


def _check_pair(issues: Issues, low: float | None, high: float | None, lo: str, hi: str) -> None:
    if low is not None and high is not None and low > high:
        issues.add(f"{lo} {low:g} is larger than {hi} {high:g}", lo)


FieldSpec = Annotated[
    FieldDefinition,
    ShortForm(
        expand_field,
        {
            "type": "string",
            "pattern": r"^\s*(" + "|".join(FIELD_TYPES) + r")\s*(\([^)]*\))?\s*!?\s*(=.*)?$",
            "description": "Short form: type[(args)][!][ = default], e.g. 'string!',"
            " 'decimal(12, 2)', 'enum(new, paid) = new', 'ref(Order)', 'list(OrderLine)'."
            " '!' = required.",
        },
    ),
]
"""A field given either as a short-form string or as a full mapping."""

FieldMap = dict[FieldName, FieldSpec]
"""Field name -> field, in declaration order."""
