"""Consumer actions: what a ``consumes`` entry does with an event's payload.

``build_actions`` turns the declarative actions into one :class:`ConsumerActions` callable,
written against the data layer's repository API (docs/runtime-internals.md):

- ``insert``: a row from ``map`` (entity field <- payload field) and ``set`` (constants);
- ``update``: ``update_where(match, map + set)``; no matching row raises ``LookupError``, which
  the consumer retries (the row may not exist *yet*) and then dead-letters;
- ``upsert``: update as above, else insert ``match + map + set``;
- ``call``: the endpoint with the payload as body and its ``{params}`` from the payload.

Rows written by insert/update go through the change hook (default: the service's
``change_publisher``), in the same transaction, so the events they trigger are enqueued with
them. A payload value that cannot be stored in the field's type raises :class:`ActionRejected`
(dead-lettered without retries). Everything runs on the consumer's connection and transaction:
if anything fails, nothing of it is kept.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from lcdev.definitions import ConsumedEvent, FieldDefinition, ServiceDefinition
from lcdev.runtime.events.errors import ActionRejected, EventDefinitionError
from lcdev.runtime.events.outbox import ChangeHook, change_publisher
from lcdev.runtime.events.subscriptions import path_params
from lcdev.runtime.events.trace import current_trace_headers

__all__ = ["CallEndpoint", "ConsumerActions", "Repository", "build_actions"]

_IMPLICIT = {"id": FieldDefinition(type="uuid"), "created_at": FieldDefinition(type="datetime"),
             "updated_at": FieldDefinition(type="datetime")}


ConsumerActions = Callable[[Any, ConsumedEvent, dict[str, Any]], Awaitable[None]]
"""``(conn, consumed, payload)``: applies one consumes entry to a payload on the consumer's
connection, in its transaction. Raising rolls the transaction back (see handling.py)."""


class Repository(Protocol):
    """The part of the data layer's ``EntityRepository`` that actions use."""

    async def insert(self, conn: Any, values: dict[str, Any]) -> dict[str, Any]: ...

    async def update_where(self, conn: Any, match: dict[str, Any],
                           values: dict[str, Any]) -> list[dict[str, Any]]: ...


class CallEndpoint(Protocol):
    """``lcdev.runtime.api.call_endpoint``: runs a custom endpoint in the caller's transaction."""

    def __call__(self, service: ServiceDefinition, name: str, conn: Any, /, *,
                 path_params: Mapping[str, str], body: Any,
                 headers: Mapping[str, str] | None = None) -> Awaitable[dict[str, Any]]: ...


def _coerce(entity: str, name: str, f: FieldDefinition, value: Any) -> Any:
    """A JSON (or YAML constant) value as the Python type the field is stored as."""
    if value is None:
        return None
    t = f.type
    try:
        if t in ("uuid", "ref"):
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        if t == "decimal":
            if isinstance(value, bool):
                raise ValueError(value)
            return Decimal(str(value))
        if t == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if t == "boolean":
            if isinstance(value, bool):
                return value
            return {"true": True, "false": False}[str(value)]
        if t in ("datetime", "date"):
            if value == "now":
                now = dt.datetime.now(dt.UTC)
                return now if t == "datetime" else now.date()
            if isinstance(value, dt.date):
                return value
            return (dt.datetime if t == "datetime" else dt.date).fromisoformat(str(value))
    except (ValueError, InvalidOperation, TypeError, KeyError):
        raise ActionRejected(
            f"{entity}.{name}: cannot store {value!r} as {t}") from None
    return value


class _Actions:
    def __init__(self, service: ServiceDefinition, repos: Mapping[str, Repository],
                 call_endpoint: CallEndpoint, on_change: ChangeHook) -> None:
        self.service, self.repos = service, repos
        self.call_endpoint, self.on_change = call_endpoint, on_change
        for entry in service.consumes:
            if entry.action == "call":
                if (entry.endpoint or "") not in service.endpoints:
                    raise EventDefinitionError(f"consumer of '{entry.event}' calls unknown"
                                               f" endpoint '{entry.endpoint}'")
                continue
            entity = service.entities.get(entry.entity or "")
            if entity is None or entry.entity not in repos:
                raise EventDefinitionError(f"consumer of '{entry.event}' writes entity"
                                           f" '{entry.entity}', which has no repository")
            unknown = sorted((set(entry.map) | set(entry.match) | set(entry.set_values))
                             - set(entity.fields) - set(_IMPLICIT))
            if unknown:
                raise EventDefinitionError(f"consumer of '{entry.event}' writes unknown"
                                           f" {entry.entity} fields: {', '.join(unknown)}")

    def _values(self, entity: str, fields: Mapping[str, str], payload: Mapping[str, Any],
                constants: Mapping[str, Any] | None = None) -> dict[str, Any]:
        declared = {**_IMPLICIT, **self.service.entities[entity].fields}
        values = {name: payload.get(source) for name, source in fields.items()}
        values |= dict(constants or {})
        return {name: _coerce(entity, name, declared[name], value)
                for name, value in values.items()}

    async def __call__(self, conn: Any, consumed: ConsumedEvent,
                       payload: dict[str, Any]) -> None:
        if consumed.action == "call":
            await self._call(conn, consumed, payload)
            return
        entity = consumed.entity or ""
        repo = self.repos[entity]
        values = self._values(entity, consumed.map, payload, consumed.set_values)
        if consumed.action == "insert":
            row = await repo.insert(conn, values)
            await self.on_change(conn, entity, "created", row)
            return
        match = self._values(entity, consumed.match, payload)
        rows = await repo.update_where(conn, match, values or dict(match))
        for row in rows:
            await self.on_change(conn, entity, "updated", row)
        if rows:
            return
        if consumed.action == "update":
            raise LookupError(f"no {entity} matches {_show(match)}")
        row = await repo.insert(conn, {**match, **values})
        await self.on_change(conn, entity, "created", row)

    async def _call(self, conn: Any, consumed: ConsumedEvent, payload: dict[str, Any]) -> None:
        name = consumed.endpoint or ""
        params = {p: str(payload[p]) for p in path_params(self.service.endpoints[name].path)}
        await self.call_endpoint(self.service, name, conn, path_params=params, body=payload,
                                 headers=dict(current_trace_headers.get()))


def _show(match: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in match.items())


def build_actions(service: ServiceDefinition, repos: Mapping[str, Repository],
                  call_endpoint: CallEndpoint, *,
                  on_change: ChangeHook | None = None) -> ConsumerActions:
    """The actions of ``service``'s consumes entries over its repositories (by entity name).
    ``on_change`` defaults to ``change_publisher(service)``."""
    return _Actions(service, repos, call_endpoint,
                    on_change if on_change is not None else change_publisher(service))
