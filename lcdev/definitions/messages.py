"""Turn pydantic validation errors into plain-language messages with YAML locations.

The location of each error is walked against the model's types, so the message can name the
thing it is about (``field 'total': ...``), unknown keys can be matched against the keys the
model allows, and choice errors can list the allowed values.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from lcdev.definitions.issues import DefinitionError, Loc
from lcdev.definitions.problems import did_you_mean

__all__ = ["describe_value", "translate_errors"]

_SINGULAR = {
    "entities": "entity",
    "publishes": "event",
    "consumes": "consumer",
    "indexes": "index",
    "payload": "payload field",
    "request": "request field",
    "set": "value",
    "map": "mapping",
    "env": "variable",
    "settings": "setting",
}
# Lists of plain mappings whose items are named "<noun> <n>" (keys below do not rename them).
_ROWS = {"seed": "seed row"}


def _singular(word: str | None) -> str:
    if not word:
        return "item"
    if word in _SINGULAR:
        return _SINGULAR[word]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass
class _Walk:
    loc: list[str | int] = field(default_factory=list)
    label: str | None = None
    allowed: list[str] | None = None
    final_type: Any = None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _walk(model: type[BaseModel], data: Any, loc: Loc) -> _Walk:
    """Follow ``loc`` through the model's types (and the raw data, for item names)."""
    result = _Walk()
    tp: Any = model
    parent_key: str | None = None
    in_row = False
    for seg in loc:
        tp = _unwrap(tp)
        if seg == "[key]":
            result.loc.append(seg)
            tp = None
            continue
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {(info.alias or name): info for name, info in tp.model_fields.items()}
            result.allowed = list(fields)
            result.loc.append(seg)
            tp = fields[seg].annotation if isinstance(seg, str) and seg in fields else None
            parent_key = seg if isinstance(seg, str) else parent_key
        elif origin in (dict, Mapping) and get_args(tp):
            if not in_row:
                result.label = f"{_singular(parent_key)} '{seg}'"
            result.loc.append(seg)
            tp = get_args(tp)[1]
        elif origin in (list, Sequence) and isinstance(seg, int):
            item = _data_at(data, [*result.loc, seg])
            name = item.get("name") or item.get("event") if isinstance(item, dict) else None
            noun = _singular(parent_key)
            tp = get_args(tp)[0] if get_args(tp) else None
            item_type = _unwrap(tp)
            if isinstance(item_type, type) and issubclass(item_type, BaseModel):
                named = isinstance(name, str)
                result.label = f"{noun} '{name}'" if named else f"{noun} {seg + 1}"
            elif parent_key in _ROWS:
                row = f"{_ROWS[parent_key]} {seg + 1}"
                result.label = f"{result.label}, {row}" if result.label else row
                in_row = True
            result.loc.append(seg)
        elif origin in (Union, types.UnionType):
            continue  # a union member tag that pydantic puts in the location
        else:
            result.loc.append(seg)
            tp = None
    result.final_type = _unwrap(tp) if tp is not None else None
    return result


def _data_at(data: Any, loc: Sequence[str | int]) -> Any:
    for seg in loc:
        in_list = isinstance(data, list) and isinstance(seg, int) and 0 <= seg < len(data)
        if not in_list and not (isinstance(data, dict) and seg in data):
            return None
        data = data[seg]
    return data


def describe_value(value: Any) -> str:
    """A short plain description of a YAML value: ``'abc' (a string)``, ``a list``..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"'{shown}' (a string)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.date):
        return f"{value.isoformat()} (a date)"
    return repr(value)


def _choices(tp: Any) -> list[str] | None:
    if get_origin(tp) is Literal:
        return [str(a) for a in get_args(tp)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [str(m.value) for m in tp]
    return None


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}

_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("greater than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def _message(etype: str, err: Mapping[str, Any], walk: _Walk, found: str) -> str:
    ctx: Mapping[str, Any] = err.get("ctx") or {}
    last = walk.loc[-1] if walk.loc else ""
    if etype == "missing":
        return f"missing required key '{last}'"
    if etype == "extra_forbidden":
        return f"unknown key '{last}'" + did_you_mean(str(last), walk.allowed or [])
    if etype in _EXPECTED:
        return f"expected {_EXPECTED[etype]}, found {found}"
    if etype in ("literal_error", "enum"):
        options = _choices(walk.final_type)
        allowed = ", ".join(f"'{o}'" for o in options) if options else str(ctx.get("expected"))
        guess = did_you_mean(str(err.get("input")), options or [])
        return f"expected one of {allowed}, found {found}{guess}"
    if etype in _BOUNDS:
        words, key = _BOUNDS[etype]
        return f"must be {words} {ctx.get(key)}, found {found}"
    if etype in ("string_too_short", "string_too_long"):
        words = "at least" if etype == "string_too_short" else "at most"
        limit = ctx.get("min_length", ctx.get("max_length"))
        return f"must be {words} {limit} characters long, found {found}"
    if etype in ("too_short", "too_long"):
        words = "at least" if etype == "too_short" else "at most"
        limit = ctx.get("min_length", ctx.get("max_length"))
        return f"must have {words} {limit} items, found {found}"
    if etype == "string_pattern_mismatch":
        return f"found {found}, which does not match the pattern {ctx.get('pattern')}"
    if etype in ("value_error", "assertion_error"):
        return str(ctx.get("error") or err.get("msg"))
    return f"{err.get('msg')}, found {found}"


def translate_errors(
    model: type[BaseModel], data: Any, exc: ValidationError
) -> Iterator[tuple[Loc, str, bool]]:
    """Yield ``(yaml location, message, point at key)`` for every error in ``exc``."""
    for err in exc.errors(include_url=False):
        walk = _walk(model, data, tuple(err["loc"]))
        etype = err["type"]
        error = (err.get("ctx") or {}).get("error")
        if isinstance(error, DefinitionError):
            for sub, text in error.issues:
                sub_walk = _walk(model, data, (*walk.loc, *sub))
                label = sub_walk.label or walk.label
                sub_loc: Loc = tuple(sub_walk.loc)
                key = bool(sub_loc) and sub_loc[-1] == "[key]"
                yield sub_loc[:-1] if key else sub_loc, f"{label}: {text}" if label else text, key
            continue
        at_key = etype in ("extra_forbidden", "missing")
        loc: Loc = tuple(walk.loc)
        if etype == "missing":
            loc = loc[:-1]
        message = _message(etype, err, walk, describe_value(err.get("input")))
        if etype == "extra_forbidden" and walk.loc and walk.label and walk.label.endswith(
            f"'{walk.loc[-1]}'"
        ):
            walk.label = None
        if walk.loc and walk.loc[-1] == "[key]":
            loc, at_key = loc[:-1], True
        yield loc, f"{walk.label}: {message}" if walk.label else message, at_key
