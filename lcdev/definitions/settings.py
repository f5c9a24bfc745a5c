"""Service settings: named, typed values with defaults that an environment variable overrides.

Guards use them as ``settings.<name>`` so limits are configurable without editing rules.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from lcdev.definitions.common import DefinitionModel, FieldName, ShortForm
from lcdev.definitions.issues import Issues

__all__ = ["SettingDefinition", "SettingMap", "coerce_setting"]

SettingType = Literal["string", "integer", "decimal", "boolean"]


def _expand(value: Any) -> Any:
    if isinstance(value, bool):
        return {"type": "boolean", "default": value}
    if isinstance(value, int):
        return {"type": "integer", "default": value}
    if isinstance(value, float):
        return {"type": "decimal", "default": value}
    if isinstance(value, str):
        return {"type": "string", "default": value}
    return value


class SettingDefinition(DefinitionModel):
    """A configurable value; a bare scalar is the short form (its type is inferred)."""

    type: SettingType = Field("string", description="string, integer, decimal or boolean.")
    default: Any = Field(None, description="Value when the environment variable is not set.")
    env: str | None = Field(None, description="Environment variable that overrides the default.")
    description: str | None = Field(None, description="What the setting controls.")

    @model_validator(mode="after")
    def _consistent(self) -> SettingDefinition:
        issues = Issues()
        value = self.default
        if value is not None:
            try:
                value = coerce_setting(self.type, value)
            except ValueError as exc:
                issues.add(str(exc), "default")
        issues.raise_if_any()
        return self if value == self.default else self.model_copy(update={"default": value})


def coerce_setting(kind: str, value: Any) -> Any:
    """Convert ``value`` (from YAML or an environment variable) to the setting's type."""
    text = str(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif kind == "integer" and not isinstance(value, bool):
        try:
            return int(text)
        except ValueError:
            pass
    elif kind == "decimal" and not isinstance(value, bool):
        try:
            return Decimal(text)
        except InvalidOperation:
            pass
    elif kind == "string":
        return text
    raise ValueError(f"default {value!r} is not a valid {kind}")


SettingSpec = Annotated[
    SettingDefinition,
    ShortForm(
        _expand,
        {"type": ["string", "number", "boolean"], "description": "Short form: the default value."},
    ),
]
SettingMap = dict[FieldName, SettingSpec]
"""Setting name -> setting."""
