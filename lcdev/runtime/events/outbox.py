"""The transactional outbox: ``enqueue`` and the change hook that emits entity events.

``enqueue`` inserts one row into ``<schema>.lcdev_outbox`` on the caller's connection, so the
event commits or rolls back with the caller's transaction, and NOTIFYs the relay (PostgreSQL
delivers a NOTIFY at commit only). Nothing touches Kafka here.

Failures: a payload that does not match the event's declared fields raises
:class:`EventPayloadError` and a definition the runtime cannot apply raises
:class:`EventDefinitionError` — both before anything is inserted; the caller's transaction
should roll back, so the write that triggered the event is not stored either.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import orjson

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.events.conditions import condition_holds, resolve_settings
from lcdev.runtime.events.errors import EventDefinitionError, EventPayloadError
from lcdev.runtime.events.schema import check_payload, event_key, payload_fields
from lcdev.runtime.events.tables import EventTables
from lcdev.runtime.events.trace import writing_outbox
from lcdev.runtime.events.wire import jsonable

__all__ = ["ChangeHook", "ChangeKind", "change_publisher", "enqueue", "payload_from_row"]

ChangeKind = Literal["created", "updated", "deleted"]
ChangeHook = Callable[[Any, str, ChangeKind, dict[str, Any]], Awaitable[None]]
"""``(conn, entity, change, row)``: called by a write, in its transaction, after the change."""

_INSERTS: dict[str, str] = {}


def _insert_sql(tables: EventTables) -> str:
    sql = _INSERTS.get(tables.schema)
    if sql is None:
        # created_at is the insert's own clock (not the transaction's start) so that two
        # transactions changing the same row order their events as their changes happened.
        sql = _INSERTS[tables.schema] = (
            f"WITH row AS (INSERT INTO {tables.outbox}"
            " (id, event, topic, key, payload, headers, created_at)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, clock_timestamp()) RETURNING id)"
            " SELECT pg_notify($7, '') FROM row"
        )
    return sql


async def enqueue(conn: Any, service: ServiceDefinition, event_name: str,
                  payload: Mapping[str, Any], *, key: str | None = None,
                  headers: Mapping[str, str] | None = None) -> uuid.UUID:
    """Put ``event_name`` with ``payload`` in the outbox of ``conn``'s transaction; return the
    event id. ``key`` defaults to the event's key field (``key:``, else its first uuid field);
    ``headers`` (W3C trace context) default to :data:`current_trace_headers`. The insert runs
    in an ``outbox <topic>`` span; the row stores that span's trace context, so the relay's
    publish span becomes its child.
    """
    declared = service.publishes.get(event_name)
    if declared is None:
        known = ", ".join(service.publishes) or "none"
        raise EventDefinitionError(f"service '{service.name}' does not publish '{event_name}'"
                                   f" (it publishes: {known})")
    data = jsonable(payload)
    fields = payload_fields(service, event_name)
    problems = check_payload(fields, data, exact=bool(declared.payload))
    if problems:
        raise EventPayloadError(event_name, problems)
    if key is None:
        key = event_key(service, event_name, data)
    event_id = uuid.uuid4()
    tables = EventTables.of(service)
    topic = service.topic(event_name)
    with writing_outbox(topic, headers) as stored:
        await conn.execute(
            _insert_sql(tables), event_id, event_name, topic, key,
            orjson.dumps(data).decode(), orjson.dumps(stored).decode(), tables.outbox_channel,
        )
    return event_id


def payload_from_row(service: ServiceDefinition, event_name: str,
                     row: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON payload of an entity event: each declared field from the row field ``map``
    names (default: the same name), embedded child lists included; the whole row when the
    event declares no payload."""
    declared = service.publishes[event_name]
    if not declared.payload:
        return dict(jsonable(row))
    payload: dict[str, Any] = {}
    for name in declared.payload:
        source = declared.map.get(name, name)
        if source not in row:
            raise EventDefinitionError(
                f"event '{event_name}': payload field '{name}' is taken from"
                f" {declared.entity or 'row'} field '{source}', which the row does not have"
                f" (it has: {', '.join(row)})"
            )
        payload[name] = row[source]
    return dict(jsonable(payload))


def change_publisher(service: ServiceDefinition, *,
                     settings: Mapping[str, Any] | None = None) -> ChangeHook:
    """The hook that enqueues every ``publishes`` entry whose ``entity`` and ``when`` match a
    change and whose ``if:`` holds on the row. Raises :class:`EventDefinitionError` at once
    when an event maps a field its entity does not have."""
    values = resolve_settings(service) if settings is None else dict(settings)
    by_change: dict[tuple[str, str], list[str]] = {}
    for name, declared in service.publishes.items():
        if declared.entity is None or declared.when == "endpoint":
            continue
        entity = service.entities.get(declared.entity)
        if entity is None:
            raise EventDefinitionError(f"event '{name}': unknown entity '{declared.entity}'")
        known = set(entity.all_field_names())
        for field in declared.payload:
            source = declared.map.get(field, field)
            if source not in known:
                raise EventDefinitionError(
                    f"event '{name}': payload field '{field}' is taken from {declared.entity}"
                    f" field '{source}', which {declared.entity} does not have")
        by_change.setdefault((declared.entity, declared.when), []).append(name)

    async def on_change(conn: Any, entity: str, change: ChangeKind,
                        row: dict[str, Any]) -> None:
        for name in by_change.get((entity, change), ()):
            condition = service.publishes[name].condition
            if condition is not None:
                try:
                    if not condition_holds(condition, row, values):
                        continue
                except ValueError as exc:
                    raise EventDefinitionError(f"event '{name}': {exc}") from exc
            await enqueue(conn, service, name, payload_from_row(service, name, row))

    return on_change
