"""Check one value against a field: its type, limits, enum values, pattern and decimal digits.

Used for field defaults and for an entity's ``seed`` rows, so both follow the same rules and
give the same messages. The value comes back in its Python type (``Decimal``, ``UUID``, ``int``,
``date``...) so the runtime can store it as is.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from lcdev.definitions.problems import did_you_mean

if TYPE_CHECKING:
    from lcdev.definitions.fields import FieldDefinition

__all__ = ["check_value"]

_NUMERIC = ("integer", "decimal")
_TEXTUAL = ("string", "text")


def check_value(f: FieldDefinition, value: Any, noun: str) -> tuple[Any, list[str]]:
    """``value`` in the field's Python type, and what is wrong with it (empty when valid).

    ``noun`` starts each message: ``default 'x' is not one of the values ...``.
    """
    shown = f"{noun} '{value}'" if isinstance(value, str) else f"{noun} {value}"
    problems: list[str] = []
    checker = _CHECKERS.get(f.type)
    result = value if checker is None else checker(f, value, shown, problems)
    return result, problems


def _enum(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    values = f.values or []
    if str(value) not in values:
        allowed = ", ".join(f"'{v}'" for v in values)
        problems.append(
            f"{shown} is not one of the values {allowed}" + did_you_mean(str(value), values)
        )
    return str(value)


def _number(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    try:
        number = None if isinstance(value, bool) else Decimal(str(value))
    except InvalidOperation:
        number = None
    integer = f.type == "integer"
    if number is None or not number.is_finite() or (
        integer and number != number.to_integral_value()
    ):
        problems.append(f"{shown} is not {'an integer' if integer else 'a number'}")
        return value
    if f.min is not None and number < Decimal(str(f.min)):
        problems.append(f"{shown} is below min {f.min:g}")
    if f.max is not None and number > Decimal(str(f.max)):
        problems.append(f"{shown} is above max {f.max:g}")
    if integer:
        return int(number)
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if f.scale is not None and places > f.scale:
        problems.append(f"{shown} has more than {f.scale} digits after the point")
    if f.precision is not None:
        whole = len(str(abs(int(number)))) if int(number) else 0
        allowed = f.precision - (f.scale or 0)
        if whole > allowed:
            problems.append(f"{shown} has more than {allowed} digits before the point")
    return number


def _boolean(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    if isinstance(value, bool):
        return value
    if str(value) in ("true", "false"):
        return str(value) == "true"
    problems.append(f"{shown} is not true or false")
    return value


def _uuid(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        problems.append(f"{shown} is not a UUID")
        return value


def _when(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    if value == "now" or isinstance(value, dt.date):
        return value
    try:
        parse = dt.datetime.fromisoformat if f.type == "datetime" else dt.date.fromisoformat
        return parse(str(value))
    except ValueError:
        problems.append(f"{shown} is not an ISO {f.type} or 'now'")
        return value


def _text(f: FieldDefinition, value: Any, shown: str, problems: list[str]) -> Any:
    if isinstance(value, dict | list):
        problems.append(f"{shown} is not a string")
        return value
    text = str(value)
    if f.max_length is not None and len(text) > f.max_length:
        problems.append(f"{shown} is longer than max_length {f.max_length}")
    if f.min_length is not None and len(text) < f.min_length:
        problems.append(f"{shown} is shorter than min_length {f.min_length}")
    if f.pattern is not None and not re.fullmatch(f.pattern, text):
        problems.append(f"{shown} does not match pattern {f.pattern}")
    return text


_CHECKERS = {
    "enum": _enum,
    "integer": _number,
    "decimal": _number,
    "boolean": _boolean,
    "uuid": _uuid,
    "ref": _uuid,
    "date": _when,
    "datetime": _when,
    "string": _text,
    "text": _text,
}
