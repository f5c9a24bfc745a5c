"""Fields of the definitions language as JSON Schema (2020-12), shared by the OpenAPI and
AsyncAPI documents, with example values.

The schemas say exactly what the runtime accepts and returns: decimals are strings
(``format: decimal``, a pattern bounded by precision and scale), uuids ``format: uuid``,
datetimes ``format: date-time``; a field that is not required may be ``null``. Child ``list``
fields are arrays of the child entity (``$ref`` in responses, inline in request bodies, where
the reference to the parent is implied).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lcdev.definitions import FieldDefinition, ServiceDefinition

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NO_NUL",
    "SCHEMA_REF",
    "entity_example",
    "entity_input_schema",
    "entity_schema",
    "example_value",
    "field_schema",
    "fields_example",
    "fields_schema",
    "nullable",
    "row_example",
]

SCHEMA_REF = "#/components/schemas/"
NO_NUL = "^[^\\u0000]*$"
"""Text may hold any character but NUL (PostgreSQL cannot store it)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_EXAMPLE_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
_EXAMPLE_TIME = "2024-05-01T12:00:00Z"
_SIMPLE: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "uuid": {"type": "string", "format": "uuid"},
    "datetime": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
}


def kind(field: FieldDefinition) -> str:
    """The field's type name (``list`` included, whatever the model's Literal says)."""
    return str(field.type)


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts ``null``."""
    if "enum" in schema:
        return {**schema, "type": [schema.get("type", "string"), "null"],
                "enum": [*schema["enum"], None]}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def decimal_pattern(field: FieldDefinition) -> str:
    """The exact text form of a decimal: sign only if negatives are allowed, at most
    ``precision - scale`` digits before the point and ``scale`` after it."""
    sign = "" if field.min is not None and field.min >= 0 else "-?"
    if field.precision is None:
        return rf"^{sign}\d+(\.\d+)?$"
    scale = field.scale or 0
    whole = field.precision - scale
    head = rf"\d{{1,{whole}}}" if whole > 0 else "0"
    tail = rf"(\.\d{{1,{scale}}})?" if scale > 0 else ""
    return f"^{sign}{head}{tail}$"


def _base(field: FieldDefinition, name: str, *, ref_prefix: str, inline: bool,
          service: ServiceDefinition | None, parent: str | None) -> dict[str, Any]:
    t = kind(field)
    if t in _SIMPLE:
        return dict(_SIMPLE[t])
    if t in ("string", "text"):
        schema: dict[str, Any] = {"type": "string", "pattern": NO_NUL}
        for key, attr in (("minLength", "min_length"), ("maxLength", "max_length"),
                          ("pattern", "pattern")):
            if getattr(field, attr) is not None:
                schema[key] = getattr(field, attr)
        return schema
    if t == "integer":
        low = INT64_MIN if field.min is None else int(field.min)
        high = INT64_MAX if field.max is None else int(field.max)
        return {"type": "integer", "format": "int64", "minimum": low, "maximum": high}
    if t == "decimal":
        schema = {"type": "string", "format": "decimal", "pattern": decimal_pattern(field)}
        bounds = [f"at least {field.min:g}" if field.min is not None else "",
                  f"at most {field.max:g}" if field.max is not None else ""]
        if any(bounds):
            schema["description"] = "A decimal " + " and ".join(b for b in bounds if b) + "."
        return schema
    if t == "enum":
        return {"type": "string", "enum": list(field.values or [])}
    if t == "json":
        return dict(field.json_schema or {})
    if t == "ref":
        return {"type": "string", "format": "uuid",
                "description": f"The id of a {field.entity}."}
    if t == "list" and field.entity is not None:
        if inline and service is not None:
            child, back = _child(service, parent, name, field.entity)
            items = entity_input_schema(service, child, skip=back)
        else:
            items = {"$ref": ref_prefix + field.entity}
        schema = {"type": "array", "items": items}
        if field.min_items is not None:
            schema["minItems"] = field.min_items
        if field.max_items is not None:
            schema["maxItems"] = field.max_items
        return schema
    raise ValueError(f"field '{name}': no JSON Schema for type '{t}'")


def _child(service: ServiceDefinition, parent: str | None, name: str,
           entity: str) -> tuple[str, str | None]:
    """(child entity, its ref back to ``parent``) of the list field ``name`` of ``parent``."""
    if parent is not None and parent in service.entities:
        found = service.entities[parent].child_collections().get(name)
        if found is not None:
            return found
    return entity, None


def field_schema(
    field: FieldDefinition, name: str = "", *, is_nullable: bool | None = None,
    ref_prefix: str = SCHEMA_REF, inline: bool = False,
    service: ServiceDefinition | None = None, parent: str | None = None,
) -> dict[str, Any]:
    """The JSON Schema of one field; ``null`` is allowed unless it is required."""
    schema = _base(field, name, ref_prefix=ref_prefix, inline=inline, service=service,
                   parent=parent)
    if field.description:
        extra = schema.get("description")
        schema["description"] = f"{field.description} {extra}" if extra else field.description
    default = _json_default(field)
    if default is not None:
        schema["default"] = default
    if is_nullable is None:
        is_nullable = not field.required and kind(field) != "list"
    return nullable(schema) if is_nullable else schema


def _json_default(field: FieldDefinition) -> Any:
    value = field.default
    if value is None or value == "now":
        return None
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def fields_schema(
    fields: Mapping[str, FieldDefinition], *, ref_prefix: str = SCHEMA_REF,
    closed: bool = True, description: str | None = None,
) -> dict[str, Any]:
    """An object of these fields (an endpoint's request, an event's payload)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {n: field_schema(f, n, ref_prefix=ref_prefix) for n, f in fields.items()},
    }
    required = [n for n, f in fields.items() if f.required and f.default is None]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def entity_schema(
    service: ServiceDefinition, name: str, *, ref_prefix: str = SCHEMA_REF
) -> dict[str, Any]:
    """A stored row as the API returns it: every column (``null`` when it has no value) and
    its child collections embedded."""
    entity = service.entities[name]
    props: dict[str, Any] = {"id": {"type": "string", "format": "uuid", "readOnly": True}}
    for fname, field in entity.fields.items():
        props[fname] = field_schema(field, fname, ref_prefix=ref_prefix)
    if entity.timestamps:
        for stamp in ("created_at", "updated_at"):
            props[stamp] = {"type": "string", "format": "date-time", "readOnly": True}
    required = list(props)  # every column, and the children, are in every row read
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    if entity.description:
        schema["description"] = entity.description
    return schema


def entity_input_schema(
    service: ServiceDefinition, name: str, *, partial: bool = False, skip: str | None = None,
) -> dict[str, Any]:
    """A request body creating (or with ``partial``, patching) a row of ``name``.

    ``skip`` is the ref back to the parent when the row is nested in it (implied, left out).
    """
    entity = service.entities[name]
    props: dict[str, Any] = {}
    required: list[str] = []
    for fname, field in entity.fields.items():
        if fname == skip:
            continue
        props[fname] = field_schema(field, fname, inline=True, service=service, parent=name)
        if field.required and field.default is None and not partial:
            required.append(fname)
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def example_value(field: FieldDefinition, name: str = "", *,
                  service: ServiceDefinition | None = None, parent: str | None = None) -> Any:
    """A plausible value of ``field``, or ``None`` when none can be made (a pattern)."""
    default = _json_default(field)
    if default is not None:
        return default
    t = kind(field)
    if t in ("string", "text"):
        if field.pattern is not None:
            return None
        text = "example"
        if field.min_length is not None and len(text) < field.min_length:
            text = text.ljust(field.min_length, "x")
        return text[: field.max_length] if field.max_length else text
    if t == "integer":
        low = 1 if field.min is None else int(field.min)
        return min(max(low, 1), int(field.max)) if field.max is not None else max(low, 1)
    if t == "decimal":
        return _decimal_example(field)
    if t == "list" and service is not None:
        child, back = _child(service, parent, name, field.entity or "")
        item = entity_example(service, child, skip=back) if child in service.entities else None
        return [item] if item is not None else None
    if t == "enum":
        return field.values[0] if field.values else None
    simple = {"boolean": True, "uuid": _EXAMPLE_UUID, "ref": _EXAMPLE_UUID,
              "datetime": _EXAMPLE_TIME, "date": _EXAMPLE_TIME[:10]}
    return simple.get(t)


def _decimal_example(field: FieldDefinition) -> str:
    scale = field.scale or 0
    value = Decimal("12.5")
    if field.min is not None:
        value = max(value, Decimal(str(field.min)))
    if field.max is not None:
        value = min(value, Decimal(str(field.max)))
    if field.precision is not None and value >= Decimal(10) ** (field.precision - scale):
        value = Decimal(0) if field.min is None or field.min <= 0 else Decimal(str(field.min))
    return f"{value:.{scale}f}" if field.scale is not None else str(value)


def fields_example(
    fields: Mapping[str, FieldDefinition], *, service: ServiceDefinition | None = None,
    parent: str | None = None, skip: str | None = None,
) -> dict[str, Any] | None:
    """An example object of these fields, or ``None`` when a required one has no example."""
    example: dict[str, Any] = {}
    for name, field in fields.items():
        if name == skip:
            continue
        value = example_value(field, name, service=service, parent=parent)
        if value is None:
            if field.required and field.default is None:
                return None
            continue
        example[name] = value
    return example


def entity_example(
    service: ServiceDefinition, name: str, *, skip: str | None = None
) -> dict[str, Any] | None:
    """A request body creating a row of ``name`` (``skip``: the implied ref to its parent)."""
    return fields_example(service.entities[name].fields, service=service, parent=name,
                          skip=skip)


def row_example(service: ServiceDefinition, name: str) -> dict[str, Any]:
    """A stored row of ``name`` as the API returns it (id and timestamps included)."""
    entity = service.entities[name]
    example: dict[str, Any] = {"id": _EXAMPLE_UUID}
    for fname, field in entity.fields.items():
        if kind(field) != "list":
            example[fname] = example_value(field, fname, service=service, parent=name)
        elif field.entity in service.entities:
            example[fname] = [row_example(service, field.entity)]
    if entity.timestamps:
        example.update(created_at=_EXAMPLE_TIME, updated_at=_EXAMPLE_TIME)
    return example
