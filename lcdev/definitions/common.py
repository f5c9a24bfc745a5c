"""Building blocks shared by the definition models: names, durations, short forms, base model."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "DefinitionModel",
    "Duration",
    "EntityName",
    "EventName",
    "FieldName",
    "ServiceName",
    "ShortForm",
    "WorkspaceName",
    "format_duration",
    "parse_duration",
]


class DefinitionModel(BaseModel):
    """Base of every definition model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = r"^\d+(\.\d+)?(ms|s|m|h)$"


def parse_duration(value: Any) -> timedelta:
    """Parse ``100ms``, ``5s``, ``2m`` or ``1h`` into a :class:`timedelta`."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        from lcdev.definitions.messages import describe_value

        raise ValueError(
            f"expected a duration like '100ms', '5s', '2m' or '1h', found {describe_value(value)}"
        )
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """The shortest exact duration string for ``value`` (``1500ms``, ``5s``, ``2m``)."""
    ms = round(value.total_seconds() * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration: a number and a unit, ms, s, m or h (100ms, 5s, 2m).",
        }
    ),
]
"""A duration written as ``100ms``, ``5s``, ``2m`` or ``1h``; a :class:`timedelta` in Python."""


def _name_checker(pattern: str, what: str, example: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"invalid {what} '{value}': expected {example}")
        return value

    return check


ServiceName = Annotated[
    str,
    AfterValidator(
        _name_checker(
            r"[a-z][a-z0-9-]*", "service name", "lower-case letters, digits and '-' (orders)"
        )
    ),
    WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}),
]
WorkspaceName = Annotated[
    str,
    AfterValidator(
        _name_checker(
            r"[a-z][a-z0-9-]*", "workspace name", "lower-case letters, digits and '-' (shop)"
        )
    ),
    WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9-]*$"}),
]
EntityName = Annotated[
    str,
    AfterValidator(
        _name_checker(r"[A-Z][A-Za-z0-9]*", "entity name", "PascalCase letters and digits (Order)")
    ),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"}),
]
EventName = Annotated[
    str,
    AfterValidator(
        _name_checker(
            r"[A-Z][A-Za-z0-9]*", "event name", "PascalCase letters and digits (OrderPlaced)"
        )
    ),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$"}),
]
FieldName = Annotated[
    str,
    AfterValidator(
        _name_checker(
            r"[a-z][a-z0-9_]*", "name", "lower-case letters, digits and '_' (customer_id)"
        )
    ),
    WithJsonSchema({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}),
]


class ShortForm:
    """``Annotated`` marker: the value may also be written as a string (or list) short form.

    ``expand`` turns the short form into the full mapping before validation; the JSON Schema
    becomes ``anyOf`` the short form and the full form so editors accept both.
    """

    def __init__(self, expand: Callable[[Any], Any], short_schema: dict[str, Any]) -> None:
        self.expand = expand
        self.short_schema = short_schema

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.expand, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        full = handler(schema)
        return {"anyOf": [dict(self.short_schema), full]}
