"""Checking ``json`` field values against the JSON Schema declared in the field's ``schema``.

Uses the ``jsonschema`` library, imported on first use (only services that declare a schema
pay for it). Validators are compiled once per schema.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["check_json_schema"]

_validators: dict[bytes, Any] = {}


def check_json_schema(schema: dict[str, Any], value: Any) -> None:
    """Raise ``ValueError`` naming the first place where ``value`` breaks ``schema``."""
    key = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    validator = _validators.get(key)
    if validator is None:
        import jsonschema  # type: ignore[import-untyped]

        validator = jsonschema.validators.validator_for(schema)(schema)
        _validators[key] = validator
    error = next(iter(validator.iter_errors(value)), None)
    if error is not None:
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        raise ValueError(f"does not match its schema{' at ' + path if path else ''}:"
                         f" {error.message}")
