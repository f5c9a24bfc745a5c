"""Event payload schemas: which fields an event carries, and checking a JSON payload against them.

Payloads are checked in their JSON form (see wire.py): decimals as strings (numbers are also
accepted from foreign producers), uuids, dates and datetimes as ISO strings. Producers check
the exact declared fields (an extra or missing field is a bug in the definition); consumers
check the fields they know, tolerating extra ones (a producer may add fields).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lcdev.definitions import FieldDefinition, ServiceDefinition

__all__ = ["check_payload", "check_value", "event_key", "key_field", "payload_fields"]

_STRINGS = ("string", "text", "enum", "uuid", "ref", "datetime", "date")
_UUID = FieldDefinition(type="uuid", required=True)
_TIMESTAMP = FieldDefinition(type="datetime", required=True)


def payload_fields(service: ServiceDefinition, event: str) -> dict[str, FieldDefinition]:
    """The fields of ``event``'s payload: as declared, else the row of its entity (the implicit
    ``id`` and timestamps included). Empty when neither is known."""
    declared = service.publishes[event]
    if declared.payload or declared.entity is None:
        return dict(declared.payload)
    entity = service.entities.get(declared.entity)
    if entity is None:
        return {}
    implicit = {"id": _UUID}
    if entity.timestamps:
        implicit |= {"created_at": _TIMESTAMP, "updated_at": _TIMESTAMP}
    return {**implicit, **entity.fields}


def key_field(service: ServiceDefinition, event: str) -> str | None:
    """The payload field whose value is the record key: ``key:``, else the first uuid field."""
    declared = service.publishes[event]
    if declared.key is not None:
        return declared.key
    fields = payload_fields(service, event)
    return next((name for name, f in fields.items() if f.type in ("uuid", "ref")), None)


def event_key(service: ServiceDefinition, event: str, payload: Mapping[str, Any]) -> str | None:
    """The record key of a payload (``None`` when the event has no key field or it is null)."""
    name = key_field(service, event)
    value = payload.get(name) if name is not None else None
    return None if value is None else str(value)


def check_payload(fields: Mapping[str, FieldDefinition], data: Mapping[str, Any], *,
                  exact: bool) -> list[str]:
    """What is wrong with ``data`` (a JSON object) given the declared ``fields``; empty when
    it conforms. ``exact`` also refuses fields that are not declared."""
    problems: list[str] = []
    for name, f in fields.items():
        value = data.get(name)
        if value is None:
            if f.required and f.type != "list":  # children may not be embedded in a row
                problems.append(f"field '{name}' is required but "
                                + ("missing" if name not in data else "null"))
            continue
        problem = check_value(f, value)
        if problem is not None:
            problems.append(f"field '{name}': {problem}")
    if exact:
        problems.extend(f"field '{name}' is not declared in the payload"
                        for name in data if name not in fields)
    return problems


def check_value(f: FieldDefinition, value: Any) -> str | None:
    """What is wrong with one non-null JSON value of field ``f`` (``None`` when valid)."""
    t = f.type
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    if t in _STRINGS and not isinstance(value, str):
        return f"expected a string ({t}), found {shown}"
    if t == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, found {shown}"
    if t == "list":
        ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
        return None if ok else f"expected a list of objects, found {shown}"
    if t in ("integer", "decimal"):
        return _number(f, value, shown)
    if t == "enum" and value not in (f.values or []):
        return f"expected one of {', '.join(f.values or [])}, found {shown}"
    if t in ("uuid", "ref"):
        try:
            uuid.UUID(value)
        except ValueError:
            return f"expected a UUID, found {shown}"
    if t in ("datetime", "date"):
        parse = dt.datetime.fromisoformat if t == "datetime" else dt.date.fromisoformat
        try:
            parse(value)
        except ValueError:
            return f"expected an ISO {t}, found {shown}"
    if t in ("string", "text"):
        return _text(f, value, shown)
    return None


def _number(f: FieldDefinition, value: Any, shown: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str) or (
        f.type == "integer" and isinstance(value, str)
    ):
        return f"expected {'an integer' if f.type == 'integer' else 'a decimal'}, found {shown}"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or (f.type == "integer" and number != number.to_integral_value()):
        return f"expected {'an integer' if f.type == 'integer' else 'a decimal'}, found {shown}"
    if f.min is not None and number < Decimal(str(f.min)):
        return f"{shown} is below min {f.min:g}"
    if f.max is not None and number > Decimal(str(f.max)):
        return f"{shown} is above max {f.max:g}"
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if f.type == "decimal" and f.scale is not None and places > f.scale:
        return f"{shown} has more than {f.scale} digits after the point"
    return None


def _text(f: FieldDefinition, value: str, shown: str) -> str | None:
    if f.max_length is not None and len(value) > f.max_length:
        return f"{shown} is longer than max_length {f.max_length}"
    if f.min_length is not None and len(value) < f.min_length:
        return f"{shown} is shorter than min_length {f.min_length}"
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        return f"{shown} does not match pattern {f.pattern}"
    return None
