"""Evaluating ``if:`` conditions on a row (published events) or a payload (consumers).

Values are compared by meaning, not by representation: a payload's decimal string ``"12.50"``
equals the setting ``12.5``; a uuid equals its string; an ISO string equals the datetime it
names. Ordering comparisons with a null are false. A condition naming a field the values do not
have, or comparing values that have no order (text with a number), raises ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lcdev.definitions import Guard, ServiceDefinition, SettingRef
from lcdev.definitions.settings import coerce_setting

__all__ = ["condition_fields", "condition_holds", "resolve_settings"]


def resolve_settings(service: ServiceDefinition,
                     environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Each setting's value: its environment variable when set, else its default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, setting in service.settings.items():
        raw = env.get(setting.env) if setting.env else None
        values[name] = setting.default if raw is None else coerce_setting(setting.type, raw)
    return values


def condition_fields(guard: Guard | None) -> set[str]:
    """Fields a condition reads."""
    return {c.field for c in guard.conditions} if guard is not None else set()


def condition_holds(guard: Guard, values: Mapping[str, Any],
                    settings: Mapping[str, Any]) -> bool:
    """Whether every condition of ``guard`` holds for ``values``."""
    for cond in guard.conditions:
        if cond.field not in values:
            raise ValueError(f"condition '{guard.text}' reads field '{cond.field}', which is"
                             " missing")
        actual = values[cond.field]
        expected: Any = cond.value
        if isinstance(expected, SettingRef):
            if expected.name not in settings:
                raise ValueError(f"condition '{guard.text}' uses unknown setting"
                                 f" '{expected.name}'")
            expected = settings[expected.name]
        if not _holds(cond.op, actual, expected):
            return False
    return True


def _holds(op: str, actual: Any, expected: Any) -> bool:
    if op in ("in", "not in"):
        found = any(_equal(actual, item) for item in expected)
        return found if op == "in" else not found
    if op == "==":
        return _equal(actual, expected)
    if op == "!=":
        return not _equal(actual, expected)
    if actual is None or expected is None:
        return False
    a, b = _comparable(actual, expected)
    try:
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])
    except TypeError:
        raise ValueError(f"cannot order {actual!r} and {expected!r}") from None


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = _comparable(a, b)
    return bool(x == y)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int | float | str):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _comparable(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two values to one kind so they compare by meaning."""
    if isinstance(a, bool) or isinstance(b, bool):
        return _boolean(a), _boolean(b)
    if isinstance(a, int | float | Decimal) or isinstance(b, int | float | Decimal):
        x, y = _number(a), _number(b)
        if x is not None and y is not None:
            return x, y
    if isinstance(a, uuid.UUID) or isinstance(b, uuid.UUID):
        return str(a), str(b)
    if isinstance(a, dt.date) or isinstance(b, dt.date):
        return _when(a), _when(b)
    return a, b


def _boolean(value: Any) -> Any:
    return {"true": True, "false": False}.get(value, value) if isinstance(value, str) else value


def _when(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(
                value)
        except ValueError:
            return value
    return value
