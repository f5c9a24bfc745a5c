"""Plain data from YAML text at libyaml speed, exactly as ruamel's round-trip loader gives it.

Hot reload parses a changed definition twice per save (supervisor and service), and ruamel's
round-trip parser is pure Python (~15-30 ms for a service file). libyaml's event parser reads the
same file in well under a millisecond; this module turns its events into the very data
``yamlload`` derives from ruamel's tree: the same YAML 1.2 resolution (ruamel's own table of
implicit resolvers), the same ints, floats, booleans, nulls and timestamps.

It answers only when it can answer exactly. Whatever ruamel would word or shape differently is
left to ruamel (``parse_fast`` returns None): syntax errors, duplicate keys, tabs, directives,
explicit tags, anchors and aliases, merge keys, keys that are collections, several documents and
scalars ruamel cannot convert.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

__all__ = ["FastParse", "parse_fast"]

# libyaml's parser, through the loader PyYAML exports for it (only its events are used). PyYAML
# wheels ship libyaml; without it the pure-Python parser would gain little over ruamel.
_CParser: Any = getattr(yaml, "CBaseLoader", None)

_Event = Any  # PyYAML's event classes are untyped
_NextEvent = Callable[[], _Event]


@dataclass(frozen=True)
class FastParse:
    """The plain data of a YAML text (None for an empty one)."""

    data: Any


class _NeedsRuamel(Exception):
    """The text uses something only ruamel's loader may decide or word."""


def parse_fast(text: str) -> FastParse | None:
    """The plain data of ``text``, or None when ruamel's loader must decide (see the module)."""
    # ruamel rejects tabs libyaml accepts ("a:<TAB>b"), and a %YAML 1.1 directive changes
    # how ruamel resolves scalars: both are rare in definitions, so they take the slow path.
    if _CParser is None or "\t" in text or text.startswith("%") or "\n%" in text:
        return None
    parser = _CParser(text)
    try:
        return FastParse(_document(parser.get_event))
    except (yaml.YAMLError, _NeedsRuamel, ValueError, IndexError, RecursionError):
        return None
    finally:
        parser.dispose()


def _document(next_event: _NextEvent) -> Any:
    next_event()  # stream start
    start = next_event()
    if type(start) is yaml.StreamEndEvent:
        return None
    if start.version is not None or start.tags:
        raise _NeedsRuamel
    data = _value(next_event, next_event())
    next_event()  # document end
    if type(next_event()) is not yaml.StreamEndEvent:
        raise _NeedsRuamel  # several documents: ruamel words that error
    return data


def _value(next_event: _NextEvent, event: _Event) -> Any:
    kind = type(event)
    if event.anchor is not None or kind is yaml.AliasEvent or event.tag is not None:
        raise _NeedsRuamel  # ruamel keeps anchors on values (an anchored `true` becomes 1)
    if kind is yaml.ScalarEvent:
        if event.implicit[0]:  # plain, so resolved by its text
            return _plain_scalar(event.value)
        return event.value
    if kind is yaml.MappingStartEvent:
        mapping: dict[Any, Any] = {}
        event = next_event()
        while type(event) is not yaml.MappingEndEvent:
            if type(event) is not yaml.ScalarEvent:
                raise _NeedsRuamel  # a collection as key: ruamel turns it into odd strings
            key = _value(next_event, event)
            if key in mapping:
                raise _NeedsRuamel  # ruamel reports every duplicate at its position
            mapping[key] = _value(next_event, next_event())
            event = next_event()
        return mapping
    if kind is yaml.SequenceStartEvent:
        items: list[Any] = []
        event = next_event()
        while type(event) is not yaml.SequenceEndEvent:
            items.append(_value(next_event, event))
            event = next_event()
        return items
    raise _NeedsRuamel


def _plain_scalar(text: str) -> Any:
    for tag, match, convert in _RESOLVERS.get(text[:1], _ANY_FIRST):
        if match(text):
            if convert is None:
                raise _NeedsRuamel(tag)  # merge keys, '=' and whatever ruamel adds later
            return convert(text)
    return text


def _bool(text: str) -> bool:
    return text.lower() == "true"


def _null(text: str) -> None:
    return None


def _int(text: str) -> int:
    """As ruamel reads YAML 1.2 ints: 0b/0o/0x prefixes, '_' ignored, 0755 is 755."""
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    base = _PREFIX_BASES.get(digits[:2])
    if base is None:
        return sign * int(digits)
    if len(digits) == 2:
        raise _NeedsRuamel(text)  # "0x_": ruamel fails in its own way
    return sign * int(digits[2:], base)


_PREFIX_BASES = {"0b": 2, "0o": 8, "0x": 16}


def _float(text: str) -> float:
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return _NAN
    return sign * float(digits)


# ruamel's own constructor builds timestamps (statelessly, so one instance serves every thread):
# it returns its TimeStamp type for values with a 'T' or a zone, plain dates and datetimes
# otherwise. Its NaN (negative, one object, so two
# `.nan` keys are duplicates) is the one ruamel returns for every `.nan`.
_ROUND_TRIP = RoundTripConstructor()
_NAN: float = _ROUND_TRIP.nan_value
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _timestamp(text: str) -> Any:
    return _ROUND_TRIP.construct_yaml_timestamp(ScalarNode(_TIMESTAMP_TAG, text))


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "tag:yaml.org,2002:bool": _bool,
    "tag:yaml.org,2002:null": _null,
    "tag:yaml.org,2002:int": _int,
    "tag:yaml.org,2002:float": _float,
    _TIMESTAMP_TAG: _timestamp,
}

_Resolver = tuple[str, Callable[[str], Any], Callable[[str], Any] | None]


def _resolvers() -> dict[str | None, list[_Resolver]]:
    """ruamel's YAML 1.2 implicit resolvers by first character ('' for the empty scalar, None
    for those tried on every scalar after the others), as its round-trip loader uses them."""
    table: dict[str | None, list[tuple[str, Any]]] = (
        VersionedResolver(version=(1, 2)).versioned_resolver
    )
    any_first = table.get(None, [])
    return {
        first: [
            (tag, regexp.match, _CONVERTERS.get(tag))
            for tag, regexp in (entries if first is None else [*entries, *any_first])
        ]
        for first, entries in {None: [], **table}.items()
    }


_RESOLVERS = _resolvers()
_ANY_FIRST = _RESOLVERS[None]
