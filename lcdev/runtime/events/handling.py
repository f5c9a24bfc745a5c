"""Applying one consumed record, exactly once, in one transaction with its offset.

For each record of a subscription's topic:

1. Decode the envelope. The record's id is the event id (or, for a record that is not an lcdev
   event, an id derived from its topic, offset, timestamp and bytes).
2. In one transaction: claim the id in ``lcdev_processed_events`` (an id already there means a
   duplicate — a replay or a second delivery — and nothing is applied), check the payload
   (the producer's schema when known, else the fields the consumer uses), evaluate each entry's
   ``if:``, run the actions, and store the next offset in ``lcdev_consumer_offsets``.

What happens to data on each failure:

- Bad record (not an event, wrong event, payload breaking the schema, a condition that cannot be
  evaluated): stored in ``lcdev_dead_letters`` with the reason; in the same transaction its id is
  recorded as processed and the offset advances. Nothing else is written. Consumption goes on.
- Action raising: the transaction rolls back (no effect, no offset); retried with backoff and
  jitter up to ``retry.attempts`` times, then dead-lettered with the last error. An action
  raising :class:`ActionRejected` or a 4xx ``ProblemError`` is dead-lettered at once.

Every dead letter has a ``code`` (:data:`DeadLetterCode`) besides its free-text reason, so
tools tell "refused for its data" from "broken" without parsing English:
``invalid_event`` (not an lcdev event, or another event than the subscription's),
``invalid_payload`` (the payload breaks the contract, an ``if:`` cannot be evaluated on it,
or the action cannot store one of its values: :class:`ActionRejected`), ``no_match`` (an
``update`` found no row to change), ``rejected`` (the endpoint a ``call`` runs answered 4xx:
its business rules refused the event) and ``failed`` (anything else, after the retries).
- Database unreachable: rolled back and retried until it is back (never dead-lettered), so a
  restart of PostgreSQL loses nothing; the partition waits meanwhile.

Telemetry (events/trace.py): all of it runs in the record's ``process <topic>`` span, each
entry's action in a ``<service>.<action>`` span below it. A failed attempt is logged at warn,
a dead letter at error (both inside the span, so the log lines carry its trace id), and a dead
letter marks the span as failed with its reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Mapping
from typing import Any, Literal, get_args

import asyncpg
import orjson
from opentelemetry.trace import Span

from lcdev.definitions import ConsumedEvent
from lcdev.runtime.events.actions import ConsumerActions
from lcdev.runtime.events.conditions import condition_holds
from lcdev.runtime.events.errors import ActionRejected
from lcdev.runtime.events.retry import Backoff, RetryPolicy, stopping
from lcdev.runtime.events.schema import check_payload
from lcdev.runtime.events.subscriptions import Subscription
from lcdev.runtime.events.tables import EventTables
from lcdev.runtime.events.trace import acting, consuming
from lcdev.runtime.events.wire import (
    HEADER_EVENT,
    Envelope,
    EnvelopeError,
    decode_envelope,
    header_map,
)
from lcdev.runtime.observability.spans import mark_error
from lcdev.runtime.problems import ProblemError

__all__ = ["DEAD_LETTER_CODES", "INFRASTRUCTURE_ERRORS", "DeadLetterCode", "Outcome",
           "RecordHandler", "dead_letter_code", "record_id"]

log = logging.getLogger("lcdev.runtime.events")
Outcome = Literal["applied", "skipped", "duplicate", "dead_lettered"]
DeadLetterCode = Literal["invalid_event", "invalid_payload", "no_match", "rejected", "failed"]
"""Why a record was dead-lettered, stored in ``lcdev_dead_letters.code`` (module docstring)."""
DEAD_LETTER_CODES: tuple[DeadLetterCode, ...] = get_args(DeadLetterCode)
_RECORD_NS = uuid.UUID("5d0c1f0e-9a53-4f5e-8a0e-6c646576e001")

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
"""Errors meaning PostgreSQL is unreachable: retried until it is back, never dead-lettered."""


class _Invalid(Exception):
    def __init__(self, reason: str, code: DeadLetterCode = "invalid_payload") -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


def record_id(record: Any, envelope: Envelope | None) -> uuid.UUID:
    """The event id, or a stable id for a record that is not an lcdev event."""
    if envelope is not None:
        return envelope.id
    digest = hashlib.sha256(record.value or b"").hexdigest()
    return uuid.uuid5(_RECORD_NS, f"{record.topic}|{record.partition}|{record.offset}|"
                                  f"{record.timestamp}|{digest}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ProblemError):
        return f"{exc.status} {exc.title}: {exc.detail}" + "".join(
            f"; {e.get('field')}: {e.get('message')}" for e in exc.errors)
    return f"{type(exc).__name__}: {exc}"


def _action_span(service: str, entry: ConsumedEvent) -> tuple[str, dict[str, str]]:
    """Name and attributes of the span of one consumes entry: ``inventory.reserve`` for a
    ``call`` of endpoint ``reserve``, ``audit.insert Entry`` for a declarative action."""
    target = (entry.endpoint if entry.action == "call" else entry.entity) or ""
    label = target if entry.action == "call" else f"{entry.action} {target}"
    return f"{service}.{label}", {"lcdev.consumer.action": entry.action,
                                  "lcdev.consumer.target": target, "lcdev.event": entry.event}


def _permanent(exc: BaseException) -> bool:
    return isinstance(exc, ActionRejected) or (
        isinstance(exc, ProblemError) and exc.status < 500)


def dead_letter_code(exc: BaseException) -> DeadLetterCode:
    """The code of an action's last error: ``no_match`` for an ``update`` that found no row
    (actions.py raises ``LookupError``), ``invalid_payload`` for a value the action cannot
    store (``ActionRejected``), ``rejected`` for a 4xx answer of a called endpoint, else
    ``failed``."""
    if isinstance(exc, LookupError):
        return "no_match"
    if isinstance(exc, ActionRejected):
        return "invalid_payload"
    return "rejected" if isinstance(exc, ProblemError) and exc.status < 500 else "failed"


class RecordHandler:
    """Applies the records of one subscription (see the module docstring)."""

    def __init__(self, pool: Any, tables: EventTables, subscription: Subscription,
                 actions: ConsumerActions, *, consumer: str, settings: Mapping[str, Any],
                 retry: RetryPolicy, service: str | None = None) -> None:
        self.pool, self.sub, self.actions = pool, subscription, actions
        self.consumer, self.settings, self.retry = consumer, settings, retry
        self._spans = {id(entry): _action_span(service or tables.schema, entry)
                       for entry in subscription.entries}
        self._claim = (
            f"INSERT INTO {tables.processed} (event_id, consumer) VALUES ($1, $2)"
            f" ON CONFLICT (event_id) DO UPDATE SET processed_at = now()"
            f" RETURNING (xmax = 0) AS fresh")
        self._offset = (
            f"INSERT INTO {tables.offsets} (topic, partition, next_offset) VALUES ($1, $2, $3)"
            f" ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset")
        self._dead = (
            f'INSERT INTO {tables.dead_letters} (topic, partition, "offset", event_id, event,'
            f" payload, headers, reason, code, attempts)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)")

    async def handle(self, record: Any) -> Outcome:
        """Apply one record; returns once its effect (or dead letter) and offset committed.
        All of it runs in the record's ``process <topic>`` span (events/trace.py)."""
        headers = header_map(record.headers)
        envelope: Envelope | None = None
        problem: str | None = None
        try:
            envelope = decode_envelope(record.value)
        except EnvelopeError as exc:
            problem = str(exc)
        event_id = record_id(record, envelope)
        with consuming(record, headers, str(event_id)) as span:
            outcome = await self._handle(record, event_id, envelope, problem, headers, span)
            span.set_attribute("lcdev.consumer.outcome", outcome)
            return outcome

    async def _handle(self, record: Any, event_id: uuid.UUID, envelope: Envelope | None,
                      problem: str | None, headers: dict[str, str], span: Span) -> Outcome:
        attempts, backoff = 0, Backoff()
        while True:
            try:
                return await self._apply(record, event_id, envelope, problem)
            except _Invalid as exc:
                mark_error(span, exc, exc.reason)
                return await self._dead_letter(record, envelope, headers, exc.reason,
                                               exc.code, 0)
            except INFRASTRUCTURE_ERRORS as exc:
                await self._wait_for_database(backoff, exc)
            except Exception as exc:
                attempts += 1
                if _permanent(exc) or attempts >= self.retry.attempts:
                    word = "attempt" if attempts == 1 else "attempts"
                    reason = f"action failed after {attempts} {word}: {_describe(exc)}"
                    mark_error(span, exc, reason)
                    return await self._dead_letter(record, envelope, headers, reason,
                                                   dead_letter_code(exc), attempts)
                delay = self.retry.delay(attempts)
                log.warning("%s offset %d: action failed (attempt %d of %d), retrying in"
                            " %.2fs: %s", record.topic, record.offset, attempts,
                            self.retry.attempts, delay, _describe(exc))
                await asyncio.sleep(delay)

    async def _apply(self, record: Any, event_id: uuid.UUID, envelope: Envelope | None,
                     problem: str | None) -> Outcome:
        async with self.pool.acquire() as conn, conn.transaction():
            outcome: Outcome = "duplicate"
            if await conn.fetchval(self._claim, event_id, self.consumer):
                if envelope is None:
                    raise _Invalid(problem or "not an event", "invalid_event")
                payload, entries = self._entries_for(envelope)
                for entry in entries:
                    name, attributes = self._spans[id(entry)]
                    with acting(name, attributes):
                        await self.actions(conn, entry, payload)
                outcome = "applied" if entries else "skipped"
            await conn.execute(self._offset, record.topic, record.partition, record.offset + 1)
        return outcome

    def _entries_for(self, envelope: Envelope) -> tuple[dict[str, Any], list[ConsumedEvent]]:
        """The payload as actions see it and the entries whose ``if:`` holds; raises
        ``_Invalid`` naming every problem of the payload."""
        sub, data = self.sub, envelope.data
        if envelope.event != sub.event:
            raise _Invalid(f"expected event '{sub.event}' on topic '{sub.topic}',"
                           f" found '{envelope.event}'", "invalid_event")
        problems = check_payload(sub.schema, data, exact=False) if sub.schema else []
        for name in sorted(sub.used):
            declared = sub.schema.get(name)
            reported = declared is not None and declared.required  # by check_payload
            if name not in data and declared is None:
                problems.append(f"field '{name}' (used by this consumer) is missing")
            elif name in sub.not_null and data.get(name) is None and not reported:
                problems.append(f"field '{name}' (used to find the row) is null")
        if problems:
            raise _Invalid("payload does not match the contract: " + "; ".join(problems))
        payload = {**{name: None for name in sub.used}, **data}
        entries = []
        for entry in sub.entries:
            if entry.condition is not None:
                try:
                    if not condition_holds(entry.condition, payload, self.settings):
                        continue
                except ValueError as exc:
                    raise _Invalid(f"condition '{entry.condition.text}': {exc}") from None
            entries.append(entry)
        return payload, entries

    async def _dead_letter(self, record: Any, envelope: Envelope | None,
                           headers: dict[str, str], reason: str, code: DeadLetterCode,
                           attempts: int) -> Outcome:
        value = (record.value or b"").decode("utf-8", "replace").replace("\x00", "\\u0000")
        event = envelope.event if envelope is not None else headers.get(HEADER_EVENT)
        stored = orjson.dumps(headers).decode().replace("\\u0000", "")
        backoff = Backoff()
        while True:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await conn.execute(
                        self._dead, record.topic, record.partition, record.offset,
                        envelope.id if envelope is not None else None, event, value, stored,
                        reason, code, attempts)
                    await conn.fetchval(self._claim, record_id(record, envelope), self.consumer)
                    await conn.execute(self._offset, record.topic, record.partition,
                                       record.offset + 1)
                break
            except (Exception, asyncio.CancelledError) as exc:  # the record must not be lost
                if isinstance(exc, asyncio.CancelledError) and stopping():
                    raise
                await self._wait_for_database(backoff, exc)
        log.error("%s offset %d dead-lettered (%s): %s", record.topic, record.offset, code,
                  reason)
        return "dead_lettered"

    async def _wait_for_database(self, backoff: Backoff, exc: BaseException) -> None:
        delay = backoff.next()
        if backoff.failures in (1, 4) or backoff.failures % 32 == 0:
            log.warning("consumer of %s waits for the database (%s); retrying in %.2fs",
                        self.sub.topic, _describe(exc), delay)
        await asyncio.sleep(delay)
