"""Field values between JSON, query strings and Python/asyncpg types, and rows back to JSON.

``from_json`` reads a value of a request body, ``from_text`` one of a query string or cursor,
``check_limits`` applies a field's limits; all raise ``ValueError`` with a message meant for
the API user. ``row_to_json`` turns a stored row into JSON-ready values (decimals become
strings so no precision is lost).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from lcdev.definitions import FieldDefinition

__all__ = [
    "check_limits",
    "decimal_value",
    "describe",
    "from_json",
    "from_text",
    "json_default",
    "resolve_default",
    "row_to_json",
    "uuid_value",
]

BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_WIDE = Context(prec=2000)
_INTEGER = re.compile(r"^[+-]?[0-9]+$")


def describe(value: Any) -> str:
    """How a JSON value is named in messages: ``'abc' (a string)``, ``12 (a number)``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}' (a string)"
    return "an array" if isinstance(value, list) else "an object"


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return text


def _check_json_text(value: Any) -> None:
    if isinstance(value, str):
        _no_nul(value)
    elif isinstance(value, list):
        for item in value:
            _check_json_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _check_json_text(item)


def decimal_value(value: Decimal) -> Decimal:
    """``value`` if PostgreSQL's numeric can hold it (finite, sane exponent)."""
    if not value.is_finite():
        raise ValueError("expected a finite number")
    if value != 0 and not -16000 < value.adjusted() < 100000:
        raise ValueError("is out of range")
    return value


def _datetime(text: str, *, lenient: bool) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None and lenient:
        try:
            value = dt.datetime.fromisoformat(text.replace(" ", "+"))
        except ValueError:
            value = None
    if value is None:
        raise ValueError(f"expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z,"
                         f" found {describe(text)}")
    if value.tzinfo is None:
        if not lenient:
            raise ValueError("expected a date-time with a time zone offset, such as"
                             " 2024-05-01T12:00:00Z")
        value = value.replace(tzinfo=dt.UTC)
    try:
        value.astimezone(dt.UTC)  # what the database stores; must stay within years 1-9999
    except OverflowError:
        raise ValueError("is out of range (years 1 to 9999 in UTC)") from None
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a date such as 2024-05-01, found {describe(text)}") from None


def uuid_value(text: str) -> uuid.UUID:
    """``text`` as a UUID; ``ValueError`` naming what was found."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError(f"expected a UUID, found {describe(text)}") from None


def from_json(definition: FieldDefinition, value: Any) -> Any:
    """A non-null JSON value of a request body as the field's Python type."""
    t = definition.type
    if t in ("string", "text", "enum", "uuid", "ref", "datetime", "date") and not isinstance(
            value, str):
        raise ValueError(f"expected a string, found {describe(value)}")
    if t in ("string", "text"):
        return _no_nul(value)
    if t == "enum":
        if value not in (definition.values or []):
            allowed = ", ".join(definition.values or [])
            raise ValueError(f"expected one of {allowed}, found {describe(value)}")
        return value
    if t in ("uuid", "ref"):
        return uuid_value(value)
    if t == "datetime":
        return _datetime(value, lenient=False)
    if t == "date":
        return _date(value)
    if t == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, found {describe(value)}")
        return value
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, found {describe(value)}")
        if not BIGINT_MIN <= value <= BIGINT_MAX:
            raise ValueError("is out of range (64-bit integer)")
        return value
    if t == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number or a numeric string, found {describe(value)}")
        try:
            number = Decimal(repr(value) if isinstance(value, float) else value)
        except InvalidOperation:
            raise ValueError(f"expected a number, found {describe(value)}") from None
        return decimal_value(number)
    _check_json_text(value)
    return value


def from_text(definition: FieldDefinition, text: str) -> Any:
    """A value written in a query string (or a cursor) as the field's Python type.

    Lenient where URLs make exactness awkward: a datetime without offset is UTC, a date alone
    is midnight UTC, and a space where ``+`` was meant is read as ``+``.
    """
    t = definition.type
    _no_nul(text)
    if t == "integer":
        if not _INTEGER.match(text) or not BIGINT_MIN <= int(text) <= BIGINT_MAX:
            raise ValueError(f"expected an integer, found {describe(text)}")
        return int(text)
    if t == "decimal":
        try:
            return decimal_value(Decimal(text))
        except InvalidOperation:
            raise ValueError(f"expected a number, found {describe(text)}") from None
    if t == "boolean":
        if text not in ("true", "false"):
            raise ValueError(f"expected true or false, found {describe(text)}")
        return text == "true"
    if t == "datetime":
        if len(text) == 10:
            return dt.datetime.combine(_date(text), dt.time(), dt.UTC)
        return _datetime(text, lenient=True)
    if t in ("uuid", "ref"):
        return uuid_value(text)
    if t == "date":
        return _date(text)
    return text


def check_limits(definition: FieldDefinition, value: Any) -> None:
    """Raise ``ValueError`` when ``value`` breaks the field's limits (bounds, lengths,
    pattern, decimal digits)."""
    d = definition
    if d.type in ("string", "text"):
        if d.max_length is not None and len(value) > d.max_length:
            raise ValueError(f"must be at most {d.max_length} characters long")
        if d.min_length is not None and len(value) < d.min_length:
            raise ValueError(f"must be at least {d.min_length} characters long")
        if d.pattern is not None and not re.fullmatch(d.pattern, value):
            raise ValueError(f"must match the pattern {d.pattern}")
    elif d.type in ("integer", "decimal"):
        # int and Decimal compare exactly with the float bounds of the definition
        if d.min is not None and value < d.min:
            raise ValueError(f"must be at least {Decimal(str(d.min)).normalize():f}")
        if d.max is not None and value > d.max:
            raise ValueError(f"must be at most {Decimal(str(d.max)).normalize():f}")
        if d.type == "decimal":
            _check_digits(d, value)


def _check_digits(d: FieldDefinition, number: Decimal) -> None:
    scale = d.scale or 0
    if d.scale is not None or d.precision is not None:
        quantum = Decimal(1).scaleb(-scale)
        if number.quantize(quantum, context=_WIDE) != number:
            places = "no decimal places" if scale == 0 else f"at most {scale} decimal places"
            raise ValueError(f"must have {places}")
    if d.precision is not None and abs(number) >= Decimal(10) ** (d.precision - scale):
        raise ValueError(f"must have at most {d.precision - scale} digits before the point")


def resolve_default(definition: FieldDefinition) -> Any:
    """The field's default as a value to store (``now`` is the current time or date)."""
    value = definition.default
    if value == "now":
        now = dt.datetime.now(dt.UTC)
        return now if definition.type == "datetime" else now.date()
    return value


def json_default(value: Any) -> Any:
    """``default=`` for orjson: decimals as exact strings, and asyncpg's own UUID type
    (orjson itself does ``uuid.UUID``, dates and datetimes)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _to_json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        return [row_to_json(item) for item in value]
    return value


def row_to_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (or a body of Python values) with JSON-ready values: uuids, dates and
    datetimes as RFC 3339 strings, decimals as strings (``"12.50"``), children recursively."""
    return {key: _to_json(value) for key, value in row.items()}
