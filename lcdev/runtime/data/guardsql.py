"""Guards (``status in [new]``) as SQL conditions, so a guarded update checks and writes in
one statement (no race between reading the row and changing it).

Values are converted to the field's type and sent as parameters; ``settings.<name>`` is the
setting's value (its environment variable, else its default) when the guard is compiled.
"""

from __future__ import annotations

import os
from typing import Any

from lcdev.definitions import FieldDefinition, Guard, SettingRef
from lcdev.definitions.settings import coerce_setting
from lcdev.runtime.data.model import EntityModel
from lcdev.runtime.data.naming import quote
from lcdev.runtime.data.values import from_text

__all__ = ["guard_sql", "setting_value"]

_OPS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def setting_value(model: EntityModel, name: str) -> Any:
    """The current value of a service setting: its environment variable, else its default."""
    setting = model.service.settings[name]
    raw = os.environ.get(setting.env) if setting.env else None
    return setting.default if raw is None else coerce_setting(setting.type, raw)


def _value(model: EntityModel, definition: FieldDefinition, value: Any) -> Any:
    if isinstance(value, SettingRef):
        value = setting_value(model, value.name)
    if value is None or definition.type == "boolean" and isinstance(value, bool):
        return value
    if definition.type == "integer" and isinstance(value, int):
        return value
    return from_text(definition, str(value))


def guard_sql(model: EntityModel, guard: Guard, first: int) -> tuple[str, list[Any]]:
    """(SQL condition, parameters numbered from ``$first``); ``ValueError`` when a value does
    not fit its field."""
    parts: list[str] = []
    params: list[Any] = []
    for condition in guard.conditions:
        definition = model.columns[condition.field]
        column = quote(condition.field)
        if condition.op in ("in", "not in"):
            assert isinstance(condition.value, tuple)
            items = [_value(model, definition, v) for v in condition.value]
            params.append(items)
            mark = f"${first + len(params) - 1}"
            parts.append(f"{column} = ANY({mark})" if condition.op == "in"
                         else f"NOT ({column} = ANY({mark}))")
            continue
        value = _value(model, definition, condition.value)
        if value is None:
            parts.append(f"{column} IS {'' if condition.op == '==' else 'NOT '}NULL")
            continue
        params.append(value)
        parts.append(f"{column} {_OPS[condition.op]} ${first + len(params) - 1}")
    return " AND ".join(parts) or "TRUE", params
