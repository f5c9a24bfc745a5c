"""Which changes of one field break whoever depends on it.

A field is seen from three sides. An entity field is written by API clients (requests), read
by them (responses) and stored (a column with rows already in it); an endpoint's request field
is only written by clients; an event payload field is read by consumers and by whoever replays
the topic's old messages. A change breaks a side when something valid before is invalid now
(a request, a stored row, an old message) or something relied on is gone. When unsure this
says "breaking": a false alarm costs a look, a missed break costs an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lcdev.definitions import FieldDefinition

__all__ = ["FieldBreak", "Role", "field_breaks", "needs_value", "signature"]

Role = Literal["entity", "request", "payload"]


@dataclass(frozen=True)
class FieldBreak:
    """One breaking aspect of a field change: the YAML key it is at and what changed."""

    key: str
    detail: str


def signature(field: FieldDefinition) -> str:
    """The type as written: ``decimal``, ``ref(Order)``, ``list(OrderLine)``."""
    return f"{field.type}({field.entity})" if field.entity else field.type


def needs_value(field: FieldDefinition) -> bool:
    """A writer must give a value: required and no default to fall back on."""
    return field.required and field.default is None


def field_breaks(old: FieldDefinition, new: FieldDefinition, role: Role) -> list[FieldBreak]:
    """The breaking aspects of ``old`` → ``new`` seen from ``role``; empty when compatible."""
    if signature(old) != signature(new):
        return [FieldBreak("type", f"type {signature(old)} → {signature(new)}")]
    if role == "payload":
        return _payload_breaks(old, new)
    found: list[FieldBreak] = []
    if needs_value(new) and not needs_value(old):
        words = "default removed" if old.required else "made required without a default"
        found.append(FieldBreak("required" if not old.required else "default", words))
    if role == "entity" and old.required and not new.required and old.is_column:
        found.append(FieldBreak("required", "no longer required: responses may hold null"))
    found += _narrowed(old, new)
    if role == "entity":
        if new.unique and not old.unique:
            found.append(FieldBreak("unique", "made unique"))
        if old.type == "ref" and old.on_delete != new.on_delete:
            found.append(FieldBreak("on_delete", f"on_delete {old.on_delete} → {new.on_delete}"))
    return found


def _payload_breaks(old: FieldDefinition, new: FieldDefinition) -> list[FieldBreak]:
    """Consumers read payloads: a value that may now be missing breaks them; one that is now
    required makes the topic's old messages (without it) invalid."""
    if old.required == new.required:
        return []
    words = "made required (old messages on the topic lack it)" if new.required else (
        "no longer required (consumers may get no value)")
    return [FieldBreak("required", words)]


def _narrowed(old: FieldDefinition, new: FieldDefinition) -> list[FieldBreak]:
    """Constraints that now refuse values accepted before."""
    found: list[FieldBreak] = []
    gone = [v for v in old.values or [] if v not in (new.values or [])]
    if gone:
        found.append(FieldBreak("values", "enum values removed: " + ", ".join(gone)))
    lower_is_tighter = (("max_length", old.max_length, new.max_length),
                        ("max", old.max, new.max), ("max_items", old.max_items, new.max_items),
                        ("precision", old.precision, new.precision),
                        ("scale", old.scale, new.scale))
    for key, before, after in lower_is_tighter:
        if after is not None and (before is None or after < before):
            found.append(FieldBreak(key, f"{key} {_show(before)} → {_show(after)}"))
    higher_is_tighter = (("min_length", old.min_length, new.min_length),
                         ("min", old.min, new.min), ("min_items", old.min_items, new.min_items))
    for key, before, after in higher_is_tighter:
        if after is not None and (before is None or after > before):
            found.append(FieldBreak(key, f"{key} {_show(before)} → {_show(after)}"))
    if new.pattern is not None and new.pattern != old.pattern:
        found.append(FieldBreak("pattern", f"pattern {_show(old.pattern)} → {new.pattern}"))
    if new.json_schema is not None and new.json_schema != old.json_schema:
        found.append(FieldBreak("schema", "JSON schema changed"))
    return found


def _show(value: float | int | str | None) -> str:
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)
