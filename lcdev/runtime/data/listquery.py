"""List queries from URL query strings: filters, ordering, limit, keyset cursor and count.

Syntax (see docs/api.md): ``?status=new`` (equals), ``?total[gte]=10``,
``?status[in]=new,paid``, ``?reason[is_null]=true``, ``?sort=-created_at,id``,
``?limit=20``, ``?cursor=...``, ``?count=true``. ``sort``, ``limit``, ``cursor`` and
``count`` are reserved words; filter a field of that name with ``name[eq]=``.

Every problem becomes ``ProblemError(400, errors=[{"field", "message"}])``, all at once.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from lcdev.definitions import FieldDefinition, ServiceDefinition
from lcdev.definitions.problems import did_you_mean
from lcdev.runtime.data.model import EntityModel, entity_model
from lcdev.runtime.data.values import from_text, json_default
from lcdev.runtime.problems import ProblemError

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "OPERATORS",
    "Filter",
    "ListQuery",
    "SortKey",
    "decode_cursor",
    "encode_cursor",
    "parse_list_query",
]

DEFAULT_LIMIT, MAX_LIMIT, MAX_IN_VALUES = 50, 500, 500
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "like", "ilike", "is_null")
_RESERVED = ("sort", "limit", "cursor", "count")
_KEY = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<op>[A-Za-z_]*)\])?$")
_ORDERED = frozenset({"integer", "decimal", "datetime", "date", "string", "text", "uuid"})
_TEXTUAL = frozenset({"string", "text", "enum"})
_TEXT = FieldDefinition(type="text")


@dataclass(frozen=True)
class Filter:
    """``field op value``; ``value`` is a tuple for ``in`` and a bool for ``is_null``."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class SortKey:
    """One ordering key."""

    field: str
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    """A parsed list request. ``sort`` always ends with ``id`` (the tie-breaker);
    ``after`` holds the values of ``sort`` of the last row already seen (from the cursor)."""

    filters: tuple[Filter, ...] = ()
    sort: tuple[SortKey, ...] = (SortKey("id"),)
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, ...] | None = None
    count: bool = False


_BY_ID = (SortKey("id"),)


def _allowed(definition: FieldDefinition, op: str) -> bool:
    t = definition.type
    if t == "json":
        return op == "is_null"
    if op in ("gt", "gte", "lt", "lte"):
        return t in _ORDERED
    if op in ("like", "ilike"):
        return t in _TEXTUAL
    return True


def _sort_signature(sort: tuple[SortKey, ...]) -> str:
    return ",".join(("-" if k.descending else "") + k.field for k in sort)


def encode_cursor(sort: tuple[SortKey, ...], values: Iterable[Any]) -> str:
    """An opaque cursor: base64url of the sort order and the last row's values of it."""
    data = orjson.dumps({"s": _sort_signature(sort), "v": list(values)}, default=json_default)
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_cursor(model: EntityModel, sort: tuple[SortKey, ...], text: str) -> tuple[Any, ...]:
    """The values a cursor holds; ``ValueError`` when it is malformed or was made for another
    sort order or entity."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise ValueError("is not a cursor returned by this API") from None
    if not isinstance(data, dict) or set(data) != {"s", "v"} or not isinstance(data["v"], list):
        raise ValueError("is not a cursor returned by this API")
    if data["s"] != _sort_signature(sort):
        raise ValueError("was made for another sort order; repeat the sort of the first page")
    if len(data["v"]) != len(sort):
        raise ValueError("is not a cursor returned by this API")
    values: list[Any] = []
    for key, value in zip(sort, data["v"], strict=True):
        definition = model.columns[key.field]
        if value is None and not definition.required:
            values.append(None)
            continue
        ok = (isinstance(value, str) or (definition.type == "integer" and type(value) is int)
              or (definition.type == "boolean" and isinstance(value, bool)))
        if not ok:
            raise ValueError("is not a cursor returned by this API")
        values.append(value if not isinstance(value, str) else from_text(definition, value))
    return tuple(values)


def _pairs(params: Any) -> Iterable[tuple[str, str]]:
    multi_items = getattr(params, "multi_items", None)
    if multi_items is not None:
        pairs: Iterable[tuple[str, str]] = multi_items()
        return pairs
    if isinstance(params, Mapping):
        return params.items()
    return [(str(k), str(v)) for k, v in params]


def _parse_sort(model: EntityModel, text: str, errors: list[dict[str, str]]) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        name = part[1:] if part.startswith("-") else part
        definition = model.columns.get(name)
        if definition is None:
            errors.append({"field": "sort", "message": f"unknown field '{name}'"
                           + did_you_mean(name, list(model.columns))})
        elif definition.type == "json":
            errors.append({"field": "sort", "message": f"cannot sort by json field '{name}'"})
        elif any(k.field == name for k in keys):
            errors.append({"field": "sort", "message": f"'{name}' is given twice"})
        else:
            keys.append(SortKey(name, part.startswith("-")))
    if keys and all(k.field != "id" for k in keys):
        keys.append(SortKey("id", keys[-1].descending))
    return tuple(keys) or (SortKey("id"),)


def _parse_filter(model: EntityModel, key: str, field: str, op: str, text: str,
                  errors: list[dict[str, str]]) -> Filter | None:
    definition = model.columns.get(field)
    if definition is None:
        errors.append({"field": key, "message": f"unknown field '{field}'"
                       + did_you_mean(field, [*model.columns, *_RESERVED])})
        return None
    if op not in OPERATORS:
        errors.append({"field": key, "message": f"unknown operator '{op}'"
                       + did_you_mean(op, OPERATORS) + f"; use one of {', '.join(OPERATORS)}"})
        return None
    if not _allowed(definition, op):
        errors.append({"field": key, "message":
                       f"operator '{op}' does not apply to {definition.type} fields"})
        return None
    try:
        if op == "is_null":
            if text not in ("true", "false"):
                raise ValueError(f"expected true or false, found '{text}'")
            return Filter(field, op, text == "true")
        if op in ("like", "ilike"):
            return Filter(field, op, from_text(_TEXT, text))
        if op == "in":
            items = text.split(",")
            if len(items) > MAX_IN_VALUES:
                raise ValueError(f"at most {MAX_IN_VALUES} values")
            return Filter(field, op, tuple(from_text(definition, item) for item in items))
        return Filter(field, op, from_text(definition, text))
    except ValueError as exc:
        errors.append({"field": key, "message": str(exc)})
        return None


def parse_list_query(service: ServiceDefinition, entity: str, params: Any) -> ListQuery:
    """Parse query parameters (a starlette ``QueryParams``, a mapping or (key, value) pairs).

    Raises ``ProblemError(400)`` listing every unknown field or operator, bad value, bad
    limit or bad cursor.
    """
    model = entity_model(service, entity)
    errors: list[dict[str, str]] = []
    filters: list[Filter] = []
    control: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for key, text in _pairs(params):
        if key in _RESERVED:
            if key in control:
                errors.append({"field": key, "message": "is given twice"})
            control[key] = text
            continue
        if "[" not in key and key in model.columns:
            field, op = key, "eq"
        else:
            match = _KEY.match(key)
            if match is None:
                errors.append({"field": key, "message": "expected field or field[operator]"})
                continue
            field, op = match.group("field"), match.group("op") or "eq"
        if (field, op) in seen:
            errors.append({"field": key, "message": "is given twice"})
            continue
        seen.add((field, op))
        found = _parse_filter(model, key, field, op, text, errors)
        if found is not None:
            filters.append(found)
    sort = _parse_sort(model, control["sort"], errors) if "sort" in control else _BY_ID
    limit = DEFAULT_LIMIT
    if "limit" in control:
        text = control["limit"]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
            errors.append({"field": "limit",
                           "message": f"expected an integer from 1 to {MAX_LIMIT}, found '{text}'"})
        else:
            limit = int(text)
    count = control.get("count", "false")
    if count not in ("true", "false"):
        errors.append({"field": "count", "message": f"expected true or false, found '{count}'"})
    after = None
    if "cursor" in control and not errors:
        try:
            after = decode_cursor(model, sort, control["cursor"])
        except ValueError as exc:
            errors.append({"field": "cursor", "message": str(exc)})
    if errors:
        raise ProblemError(400, "invalid query parameters", errors=errors)
    return ListQuery(tuple(filters), sort, limit, after, count == "true")
