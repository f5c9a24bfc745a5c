"""OTLP ``AnyValue`` / ``KeyValue`` / ``Resource`` → plain Python values.

Strings, booleans, integers and doubles stay as they are; bytes become base64 text (as OTLP
JSON writes them) so every attribute can be stored and printed as JSON; arrays become lists
and key-value lists dicts. These run once per attribute of every span, so they stay small.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

__all__ = ["DEFAULT_SERVICE", "any_value", "attributes", "service_name"]

DEFAULT_SERVICE = "unknown_service"
"""The service of telemetry whose resource has no ``service.name`` (as the SDKs default)."""

_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def any_value(value: Any) -> Any:
    """The Python value of an ``AnyValue`` (None when it holds nothing)."""
    kind = value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(value, kind)
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    """A dict of repeated ``KeyValue``; a later duplicate key wins."""
    result: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        # Scalars inline, most frequent first: this loop dominates decoding time.
        if kind == "string_value":
            result[pair.key] = value.string_value
        elif kind == "int_value":
            result[pair.key] = value.int_value
        elif kind == "bool_value":
            result[pair.key] = value.bool_value
        elif kind == "double_value":
            result[pair.key] = value.double_value
        else:
            result[pair.key] = any_value(value)
    return result


def service_name(resource: Any) -> str:
    """``service.name`` of a ``Resource`` or ``unknown_service``."""
    for pair in resource.attributes:
        if pair.key == "service.name":
            name = pair.value.string_value
            return name or DEFAULT_SERVICE
    return DEFAULT_SERVICE
