"""Compiled readers of request-body values: one function per field, made once, that checks
the JSON type, converts to the Python type asyncpg sends and applies the field's limits.

Same rules and messages as ``values.from_json`` followed by ``values.check_limits`` (the
reference implementation, used by the tests to check these readers), minus the per-call
dispatch on the field type, because a create request runs them for every field.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from lcdev.definitions import FieldDefinition
from lcdev.runtime.data.jsonschemas import check_json_schema
from lcdev.runtime.data.values import (
    BIGINT_MAX,
    BIGINT_MIN,
    check_limits,
    decimal_value,
    describe,
    from_json,
    uuid_value,
)

__all__ = ["Reader", "field_reader"]

Reader = Callable[[Any], Any]
"""Reads one non-null JSON value; raises ``ValueError`` with the message for the API user."""

_cache: dict[int, tuple[FieldDefinition, Reader]] = {}


def _uuid_reader() -> Reader:
    def read(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, found {describe(value)}")
        return uuid_value(value)

    return read


def _integer_reader(d: FieldDefinition) -> Reader:
    low = BIGINT_MIN if d.min is None else d.min
    high = BIGINT_MAX if d.max is None else d.max

    def read(value: Any) -> Any:
        if type(value) is not int:
            raise ValueError(f"expected an integer, found {describe(value)}")
        if not low <= value <= high:
            if not BIGINT_MIN <= value <= BIGINT_MAX:
                raise ValueError("is out of range (64-bit integer)")
            check_limits(d, value)  # the message of the bound that failed
        return value

    return read


def _decimal_reader(d: FieldDefinition) -> Reader:
    limited = d.precision is not None or d.scale is not None

    def read(value: Any) -> Any:
        if type(value) is str:
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueError(f"expected a number, found {describe(value)}") from None
            decimal_value(number)
        else:
            number = from_json(d, value)
        if limited or d.min is not None or d.max is not None:
            check_limits(d, number)
        return number

    return read


def _text_reader(d: FieldDefinition) -> Reader:
    simple = d.min_length is None and d.pattern is None
    longest = d.max_length

    def read(value: Any) -> Any:
        if type(value) is not str:
            raise ValueError(f"expected a string, found {describe(value)}")
        if "\x00" in value:
            raise ValueError("must not contain the NUL character (\\u0000)")
        if not simple or (longest is not None and len(value) > longest):
            check_limits(d, value)
        return value

    return read


def _enum_reader(d: FieldDefinition) -> Reader:
    allowed = frozenset(d.values or ())

    def read(value: Any) -> Any:
        if type(value) is str and value in allowed:
            return value
        return from_json(d, value)  # raises with the message

    return read


def _generic_reader(d: FieldDefinition) -> Reader:
    def read(value: Any) -> Any:
        converted = from_json(d, value)
        check_limits(d, converted)
        if d.json_schema is not None:
            check_json_schema(d.json_schema, converted)
        return converted

    return read


def field_reader(definition: FieldDefinition) -> Reader:
    """The reader of a field (made once per field definition)."""
    cached = _cache.get(id(definition))
    if cached is not None and cached[0] is definition:
        return cached[1]
    t = definition.type
    if t in ("uuid", "ref"):
        reader = _uuid_reader()
    elif t == "integer":
        reader = _integer_reader(definition)
    elif t == "decimal":
        reader = _decimal_reader(definition)
    elif t in ("string", "text"):
        reader = _text_reader(definition)
    elif t == "enum":
        reader = _enum_reader(definition)
    else:
        reader = _generic_reader(definition)
    if len(_cache) >= 4096:
        del _cache[next(iter(_cache))]
    _cache[id(definition)] = (definition, reader)  # holding it keeps the id from being reused
    return reader
