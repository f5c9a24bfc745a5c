"""A tiny condition language for guards and filters: ``status in [new, paid] and total <= 100``.

Conditions compare a field with literals or with a service setting (``settings.limit``) and
are joined with ``and``. The text stays readable in YAML; the parsed form is typed so the
runtime never re-parses strings and cross-reference checks can name unknown fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Condition", "Guard", "GuardText", "Operator", "SettingRef", "parse_guard"]

Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class SettingRef:
    """A reference to a service setting used as a value: ``settings.approval_limit``."""

    name: str


@dataclass(frozen=True)
class Condition:
    """``field op value``; for ``in`` / ``not in`` the value is a tuple of values."""

    field: str
    op: Operator
    value: Scalar | SettingRef | tuple[Scalar, ...]


@dataclass(frozen=True)
class Guard:
    """Conditions that must all hold; ``text`` is the source as written."""

    text: str
    conditions: tuple[Condition, ...]

    def __str__(self) -> str:
        return self.text


_COND = re.compile(
    r"^\s*(?P<field>[a-z][a-z0-9_]*)\s*(?P<op>==|!=|<=|>=|<|>|not\s+in|in)\s*(?P<value>.+?)\s*$"
)
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _literal(text: str) -> Scalar | SettingRef:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.startswith("settings."):
        return SettingRef(text.removeprefix("settings."))
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    return {"true": True, "false": False, "null": None}.get(text, text)


def parse_guard(text: str) -> Guard:
    """Parse a guard; raises ``ValueError`` with a plain message when it is malformed."""
    conditions: list[Condition] = []
    for part in re.split(r"\s+and\s+", text.strip()):
        match = _COND.match(part)
        if match is None:
            raise ValueError(
                f"cannot read condition '{part.strip()}': expected 'field op value' with op one"
                " of ==, !=, <, <=, >, >=, in, not in (status in [new, paid])"
            )
        op: Any = " ".join(match.group("op").split())
        raw = match.group("value")
        value: Scalar | SettingRef | tuple[Scalar, ...]
        if op in ("in", "not in"):
            if not (raw.startswith("[") and raw.endswith("]")):
                raise ValueError(f"'{op}' needs a list of values like [new, paid], found '{raw}'")
            items = [_literal(item) for item in raw[1:-1].split(",") if item.strip()]
            if any(isinstance(item, SettingRef) for item in items):
                raise ValueError("settings cannot be used inside a list of values")
            value = tuple(item for item in items if not isinstance(item, SettingRef))
        else:
            value = _literal(raw)
        conditions.append(Condition(match.group("field"), op, value))
    return Guard(text.strip(), tuple(conditions))


def _to_guard(value: Any) -> Any:
    if isinstance(value, str):
        return parse_guard(value)
    if isinstance(value, Guard):
        return value
    from lcdev.definitions.messages import describe_value

    found = describe_value(value)
    raise ValueError(f"expected a condition such as 'status in [new]', found {found}")


GuardText = Annotated[
    Guard,
    BeforeValidator(_to_guard),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "description": "Conditions joined by 'and': field ==, !=, <, <=, >, >=, in, not in"
            " a value, a [list] or settings.<name>. Example: status in [new, paid]",
        }
    ),
]
"""A guard written as a string in YAML and parsed into a :class:`Guard`."""
