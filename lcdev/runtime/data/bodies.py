"""Validation of request bodies against an entity: create (POST), full replace (PUT) and
partial update (PATCH).

Every problem is collected and raised at once as ``ProblemError(422, errors=[{"field":
"lines[0].quantity", "message": "must be at least 1"}])``: wrong types, missing required
fields, nulls in required fields, out-of-range numbers, too many decimal places, too-long
strings, unknown enum values, read-only and unknown fields. Valid values come back as the
Python types asyncpg sends (UUID, Decimal, datetime, date); nothing is written here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from lcdev.definitions import ServiceDefinition
from lcdev.definitions.problems import did_you_mean
from lcdev.runtime.data.model import EntityModel, entity_model
from lcdev.runtime.data.readers import field_reader
from lcdev.runtime.data.values import describe, resolve_default
from lcdev.runtime.problems import ProblemError

__all__ = ["MAX_CHILDREN", "BodyMode", "validate_body", "validate_create", "validate_update"]

BodyMode = Literal["create", "replace", "patch"]
MAX_CHILDREN = 1000
_READ_ONLY = ("id", "created_at", "updated_at")


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})


def _children(service: ServiceDefinition, model: EntityModel, name: str, value: Any,
              where: str, errors: _Errors) -> list[dict[str, Any]]:
    child_name, back_ref = model.children[name]
    if not isinstance(value, list):
        errors.add(where, f"expected an array of {child_name} objects, found {describe(value)}")
        return []
    declared = model.definition.fields[name]
    most = min(declared.max_items or MAX_CHILDREN, MAX_CHILDREN)
    if len(value) > most:
        errors.add(where, f"must have at most {most} items")
        return []
    if declared.min_items is not None and len(value) < declared.min_items:
        errors.add(where, f"must have at least {declared.min_items} items")
    child = entity_model(service, child_name)
    return [
        _fields(service, child, item, "create", f"{where}[{i}]", errors, back_ref=back_ref)
        for i, item in enumerate(value)
    ]


def _unknown_keys(model: EntityModel, body: dict[str, Any], back_ref: str | None,
                  where: Callable[[str], str], errors: _Errors) -> None:
    for key in body:
        if key in model.declared or key in model.children:
            if key == back_ref:
                errors.add(where(key), "is set from the parent; leave it out")
        elif key in _READ_ONLY:
            errors.add(where(key), "is read-only (set by the server)")
        else:
            known = [*model.declared, *model.children]
            errors.add(where(key), "unknown field" + did_you_mean(key, known))


def _fields(service: ServiceDefinition, model: EntityModel, body: Any, mode: BodyMode,
            prefix: str, errors: _Errors, *, back_ref: str | None = None) -> dict[str, Any]:
    def where(name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    if not isinstance(body, dict):
        errors.add(prefix, f"expected a JSON object, found {describe(body)}")
        return {}
    declared, children = model.declared, model.children
    if back_ref in body or any(k not in declared and k not in children for k in body):
        _unknown_keys(model, body, back_ref, where, errors)
    values: dict[str, Any] = {}
    patch = mode == "patch"
    for name, definition in declared.items():
        if name == back_ref:
            continue
        if name not in body:
            if patch:
                continue
            default = resolve_default(definition)
            if default is None and definition.required:
                errors.add(where(name), "is required")
            values[name] = default
            continue
        raw = body[name]
        if raw is None:
            if definition.required:
                errors.add(where(name), "must not be null")
            values[name] = None
            continue
        try:
            values[name] = field_reader(definition)(raw)
        except ValueError as exc:
            errors.add(where(name), str(exc))
    for name in children:
        required = model.definition.fields[name].required
        if name in body and body[name] is not None:
            values[name] = _children(service, model, name, body[name], where(name), errors)
        elif not patch or name in body:
            if required:
                errors.add(where(name), "is required" if name not in body
                           else "must not be null")
            values[name] = []
    return values


def validate_body(service: ServiceDefinition, entity: str, body: Any,
                  mode: BodyMode) -> dict[str, Any]:
    """Validate ``body`` (parsed JSON) for ``mode``; returns the values to store.

    ``create`` and ``replace`` fill absent fields with their defaults (or null) and absent
    child collections with ``[]``; ``patch`` returns only the fields given.
    """
    errors = _Errors()
    values = _fields(service, entity_model(service, entity), body, mode, "", errors)
    if errors.items:
        count = len(errors.items)
        raise ProblemError(
            422, f"the request body has {count} invalid field{'s' if count > 1 else ''}",
            errors=errors.items,
        )
    return values


def validate_create(service: ServiceDefinition, entity: str, body: Any) -> dict[str, Any]:
    """Values for a new row of ``entity`` (POST); raises ``ProblemError(422)``."""
    return validate_body(service, entity, body, "create")


def validate_update(service: ServiceDefinition, entity: str, body: Any, *,
                    partial: bool = True) -> dict[str, Any]:
    """Values for an update: partial (PATCH, only the fields given) or a full replacement
    (PUT, ``partial=False``: absent fields get their defaults or null, absent child
    collections become empty). Raises ``ProblemError(422)``."""
    return validate_body(service, entity, body, "patch" if partial else "replace")
