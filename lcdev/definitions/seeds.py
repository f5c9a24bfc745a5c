"""Seed rows of an entity: field values the runtime inserts when the entity's table is empty.

Every row is checked like a create request would be: known column fields only, required fields
present (unless they have a default), values of the right type within the field's limits, enum
values among the allowed ones, and no two rows sharing the value of a ``unique`` field.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from lcdev.definitions.fields import FieldDefinition
from lcdev.definitions.issues import Issues
from lcdev.definitions.problems import did_you_mean
from lcdev.definitions.values import check_value

__all__ = ["check_seed"]


def check_seed(
    fields: Mapping[str, FieldDefinition], rows: list[dict[str, Any]], issues: Issues
) -> list[dict[str, Any]]:
    """The rows with values in their Python types; problems go to ``issues`` at ``seed``."""
    columns = {name: f for name, f in fields.items() if f.is_column}
    checked: list[dict[str, Any]] = []
    first_row: dict[tuple[str, Any], int] = {}
    for i, row in enumerate(rows):
        out: dict[str, Any] = {}
        for name, value in row.items():
            field = fields.get(name)
            if field is None or not field.is_column:
                message = (
                    f"field '{name}' is a child collection; seed rows hold column values only"
                    if field is not None
                    else f"unknown field '{name}'" + did_you_mean(name, columns)
                )
                issues.add(message, "seed", i, name, "[key]")
                continue
            out[name] = _checked(name, field, value, i, issues)
            if field.unique and isinstance(out[name], Hashable) and value is not None:
                key = (name, out[name])
                if key in first_row:
                    issues.add(
                        f"field '{name}': value {_shown(value)} is also in seed row"
                        f" {first_row[key] + 1} (the field is unique)",
                        "seed", i, name,
                    )
                first_row.setdefault(key, i)
        missing = [n for n, f in columns.items()
                   if f.required and f.default is None and n not in row]
        for name in missing:
            issues.add(f"missing required field '{name}'", "seed", i)
        checked.append(out)
    return checked


def _checked(name: str, field: FieldDefinition, value: Any, row: int, issues: Issues) -> Any:
    if value is None:
        if field.required:
            issues.add(f"field '{name}' is required and cannot be null", "seed", row, name)
        return None
    if field.type == "json":
        return value
    result, problems = check_value(field, value, "value")
    for problem in problems:
        issues.add(f"field '{name}': {problem}", "seed", row, name)
    return result


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)
