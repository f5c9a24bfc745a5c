"""What a service's consumers read: one subscription per topic, with every ``consumes`` entry
of that topic, the producer's payload schema when known, and the payload fields they use.

All entries of one topic are applied by one consumer in one transaction per record, so an event
that two entries react to (``if: total <= limit`` / ``if: total > limit``) is recorded as
processed once, with its offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lcdev.definitions import ConsumedEvent, FieldDefinition, ServiceDefinition
from lcdev.runtime.events.conditions import condition_fields
from lcdev.runtime.events.errors import EventDefinitionError
from lcdev.runtime.events.schema import payload_fields

__all__ = ["Subscription", "path_params", "subscriptions"]

Producers = Mapping[str, ServiceDefinition] | Iterable[ServiceDefinition]
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def path_params(path: str) -> list[str]:
    """Names of the ``{param}`` placeholders of an endpoint path."""
    return _PARAM.findall(path)


@dataclass(frozen=True)
class Subscription:
    """One topic a service consumes and what it does with its records."""

    topic: str
    event: str
    entries: tuple[ConsumedEvent, ...]
    schema: Mapping[str, FieldDefinition]
    """The producer's payload fields; empty when unknown (only the used fields are checked)."""
    used: frozenset[str]
    """Payload fields the entries read (``match``, ``map``, ``if``, endpoint path params)."""
    not_null: frozenset[str]
    """Payload fields that must have a value (``match`` and path params)."""


def _producer_list(producers: Producers | None) -> list[ServiceDefinition]:
    if producers is None:
        return []
    if isinstance(producers, Mapping):
        return list(producers.values())
    return list(producers)


def _producer(entry: ConsumedEvent,
              candidates: list[ServiceDefinition]) -> ServiceDefinition | None:
    found = [p for p in candidates if entry.event in p.publishes
             and entry.from_service in (None, p.name)]
    return found[0] if len(found) == 1 else None


def subscriptions(service: ServiceDefinition, *, producers: Producers | None = None,
                  topics: Mapping[str, str] | None = None,
                  producer_schemas: Mapping[str, Mapping[str, FieldDefinition]] | None = None,
                  ) -> list[Subscription]:
    """The subscriptions of ``service``'s ``consumes`` entries.

    A topic comes from ``topics`` (event name -> topic), else from the producing service among
    ``producers`` (the workspace's services). A payload schema comes from ``producer_schemas``
    (event name -> fields), else from the producer. Raises :class:`EventDefinitionError` when
    the topic of an entry cannot be told.
    """
    candidates = _producer_list(producers)
    grouped: dict[str, list[ConsumedEvent]] = {}
    schemas: dict[str, Mapping[str, FieldDefinition]] = {}
    events: dict[str, str] = {}
    for entry in service.consumes:
        producer = _producer(entry, candidates)
        topic = (topics or {}).get(entry.event)
        if topic is None and producer is not None:
            topic = producer.topic(entry.event)
        if topic is None:
            source = f" from '{entry.from_service}'" if entry.from_service else ""
            raise EventDefinitionError(
                f"service '{service.name}' consumes '{entry.event}'{source} but its topic is"
                " unknown: pass the workspace's services as producers= (or topics=)")
        schema = (producer_schemas or {}).get(entry.event) or (
            payload_fields(producer, entry.event) if producer is not None else {})
        grouped.setdefault(topic, []).append(entry)
        events[topic] = entry.event
        if schema:
            schemas[topic] = schema
    return [_subscription(service, topic, events[topic], tuple(entries), schemas.get(topic, {}))
            for topic, entries in grouped.items()]


def _subscription(service: ServiceDefinition, topic: str, event: str,
                  entries: tuple[ConsumedEvent, ...],
                  schema: Mapping[str, FieldDefinition]) -> Subscription:
    used: set[str] = set()
    not_null: set[str] = set()
    for entry in entries:
        used |= set(entry.match.values()) | set(entry.map.values())
        used |= condition_fields(entry.condition)
        not_null |= set(entry.match.values())
        if entry.action == "call" and entry.endpoint is not None:
            endpoint = service.endpoints.get(entry.endpoint)
            if endpoint is None:
                raise EventDefinitionError(
                    f"consumer of '{event}' calls unknown endpoint '{entry.endpoint}'")
            params = set(path_params(endpoint.path))
            used |= params
            not_null |= params
    return Subscription(topic, event, entries, schema, frozenset(used), frozenset(not_null))
