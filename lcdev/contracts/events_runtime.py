"""Runtime event contracts: events a producer may publish, published for real, are they consumed?

For every subscription (one topic one consumer reads, as the runtime groups them) the check
puts ``count`` valid events (generated from the producer's schema, events_payloads.py), then
one invalid event, then one more valid event on the producer's topic, in the runtime's envelope
(wire.py), wakes the consumer as a relay would (NOTIFY ``lcdev_events``) and waits, bounded,
until the consumer's ``lcdev_processed_events`` has them all. It passes when

- every valid event was handled: applied, or refused by the consumer for its data rather than
  its shape — dead-lettered with code ``no_match`` (an ``update`` whose generated id matches no
  row) or ``rejected`` (a custom endpoint answering 4xx: its business rules), the codes of
  ``lcdev.runtime.events.handling``;
- the invalid event was dead-lettered with a reason;
- the last valid event, sent after the invalid one, was processed (the consumer still
  consumes).

A valid event dead-lettered for anything else (the payload refused by the consumer's contract,
a value its column cannot hold, a required column left null, a server error) fails the check.
The consumers' actions really run, so use an ephemeral stack (``lcdev test`` does).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import orjson

from lcdev.contracts.events_payloads import generate_payloads, invalid_payload
from lcdev.contracts.events_static import producer_of
from lcdev.contracts.findings import Finding
from lcdev.definitions import ServiceDefinition
from lcdev.definitions.loader import LoadedWorkspace
from lcdev.runtime.events import kafka
from lcdev.runtime.events.errors import EventDefinitionError
from lcdev.runtime.events.handling import DeadLetterCode
from lcdev.runtime.events.schema import event_key
from lcdev.runtime.events.subscriptions import Subscription, subscriptions
from lcdev.runtime.events.tables import EventTables
from lcdev.runtime.events.wire import EVENTS_CHANNEL, encode_envelope, kafka_headers

__all__ = ["EventTarget", "run_event_checks"]

WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.1
_FOR_ITS_DATA: frozenset[DeadLetterCode] = frozenset({"no_match", "rejected"})
"""Dead-letter codes of a valid event refused for its data, not its shape."""


@dataclass(frozen=True)
class _DeadLetter:
    code: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


class EventTarget(Protocol):
    """The part of ``lcdev.contracts.stack.ContractTarget`` this check uses."""

    @property
    def root(self) -> Path: ...

    @property
    def loaded(self) -> LoadedWorkspace: ...

    @property
    def dsn(self) -> str: ...

    @property
    def bootstrap(self) -> str: ...


@dataclass(frozen=True)
class _Plan:
    """What one subscription's check sends and expects."""

    name: str
    consumer: ServiceDefinition
    producer: ServiceDefinition
    subscription: Subscription
    valid: list[tuple[uuid.UUID, dict[str, Any]]]
    invalid: tuple[uuid.UUID, dict[str, Any], str] | None  # id, payload, how it is invalid

    @property
    def last(self) -> uuid.UUID:
        return self.valid[-1][0]

    @property
    def ids(self) -> list[uuid.UUID]:
        return [i for i, _ in self.valid] + ([self.invalid[0]] if self.invalid else [])


def _plans(loaded: LoadedWorkspace, seed: int, count: int) -> tuple[list[_Plan], list[Finding]]:
    plans: list[_Plan] = []
    errors: list[Finding] = []
    for consumer in loaded.services.values():
        try:
            subs = subscriptions(consumer, producers=loaded.services)
        except EventDefinitionError as exc:
            errors.append(Finding("events", f"? -> {consumer.name}", "error", consumer.name,
                                  str(exc)))
            continue
        for sub in subs:
            producer = producer_of(sub.entries[0], loaded.services)
            if producer is None:
                continue  # a producer outside the workspace: nothing to publish as
            name = f"{producer.name}.{sub.event} -> {consumer.name}"
            payloads = generate_payloads(producer, sub.event, count + 1, seed)
            if len(payloads) < 2:
                errors.append(Finding("events", name, "error", consumer.name,
                                      f"could not generate valid {sub.event} payloads"))
                continue
            broken = invalid_payload(payloads[0], dict(sub.schema), sub.used)
            invalid = (uuid.uuid4(), *broken) if broken is not None else None
            plans.append(_Plan(name, consumer, producer, sub,
                               [(uuid.uuid4(), p) for p in payloads], invalid))
    return plans, errors


def _record(plan: _Plan, event_id: uuid.UUID, payload: dict[str, Any],
            event: str) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    value = encode_envelope(event_id, event, plan.producer.name, dt.datetime.now(dt.UTC),
                            orjson.dumps(payload).decode())
    key = event_key(plan.producer, plan.subscription.event, payload)
    return value, key.encode() if key is not None else None, kafka_headers(event_id, event, {})


async def _publish(bootstrap: str, plans: list[_Plan]) -> None:
    """Valid events but the last, the invalid one, then the last valid one, per topic."""
    producer = kafka.make_producer(bootstrap)
    try:
        await producer.start()
        for plan in plans:
            event, topic = plan.subscription.event, plan.subscription.topic
            sends = [(i, p, event) for i, p in plan.valid[:-1]]
            if plan.invalid is not None:
                sends.append((plan.invalid[0], plan.invalid[1], event))
            else:  # nothing in the schema to break: the envelope names another event
                sends.append((uuid.uuid4(), plan.valid[0][1], f"{event}Invalid"))
            sends.append((plan.valid[-1][0], plan.valid[-1][1], event))
            for event_id, payload, name in sends:
                value, key, headers = _record(plan, event_id, payload, name)
                await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await kafka.close_quietly(producer)


async def _observe(conn: Any, plan: _Plan) -> tuple[set[uuid.UUID],
                                                     dict[uuid.UUID, _DeadLetter]]:
    tables = EventTables.of(plan.consumer)
    ids = plan.ids
    done = {r["event_id"] for r in await conn.fetch(
        f"SELECT event_id FROM {tables.processed} WHERE event_id = ANY($1::uuid[])", ids)}
    dead = {r["event_id"]: _DeadLetter(r["code"], r["reason"]) for r in await conn.fetch(
        f"SELECT event_id, code, reason FROM {tables.dead_letters}"
        " WHERE event_id = ANY($1::uuid[])", ids)}
    return done, dead


def _verdict(plan: _Plan, done: set[uuid.UUID], dead: dict[uuid.UUID, _DeadLetter],
             seconds: float, seed: int) -> Finding:
    valid_ids = [i for i, _ in plan.valid]
    waiting = [str(i) for i in valid_ids if i not in done]
    letters = {i: dead[i] for i in valid_ids if i in dead}
    refused = {str(i): d.to_dict() for i, d in letters.items() if d.code not in _FOR_ITS_DATA}
    accepted = {str(i): d.to_dict() for i, d in letters.items() if d.code in _FOR_ITS_DATA}
    details: dict[str, Any] = {
        "seed": seed, "topic": plan.subscription.topic,
        "valid_events": [str(i) for i in valid_ids],
        "handled_without_effect": accepted, "dead_letters": refused}
    problems: list[str] = []
    if waiting:
        problems.append(f"{len(waiting)} of {len(valid_ids)} valid events not processed within"
                        f" {WAIT_SECONDS:g}s (the last one was sent after the invalid one)")
    if refused:
        first = next(iter(refused.values()))
        problems.append(f"{len(refused)} valid events dead-lettered, e.g. {first['code']}:"
                        f" {first['reason']}")
    if plan.invalid is not None:
        bad_id, _payload, how = plan.invalid
        letter = dead.get(bad_id)
        details["invalid_event"] = {"id": str(bad_id), "how": how,
                                    "code": letter.code if letter else None,
                                    "reason": letter.reason if letter else None}
        if bad_id not in dead:
            problems.append(f"the invalid event ({how}) was not dead-lettered")
    service = plan.consumer.name
    if problems:
        return Finding("events", plan.name, "failed", service, "; ".join(problems),
                       seconds=seconds, details=details,
                       hint="run `lcdev test --only events` with --seed"
                            f" {seed}; the dead letters say why")
    note = f" ({len(accepted)} refused for their data, not their shape)" if accepted else ""
    return Finding("events", plan.name, "passed", service,
                   f"{len(valid_ids)} valid events processed{note}, the invalid one"
                   " dead-lettered, the consumer still consumes", seconds=seconds,
                   details=details)


async def _wait(dsn: str, plans: list[_Plan], started: float,
                seed: int) -> list[Finding]:
    conn = await asyncpg.connect(dsn)
    try:
        for topic in sorted({p.subscription.topic for p in plans}):
            await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, topic)
        results: dict[str, Finding] = {}
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            for plan in plans:
                if plan.name in results:
                    continue
                done, dead = await _observe(conn, plan)
                if set(plan.ids) <= done | set(dead) or time.monotonic() >= deadline:
                    results[plan.name] = _verdict(plan, done, dead,
                                                  time.perf_counter() - started, seed)
            if len(results) == len(plans):
                return [results[p.name] for p in plans]
            await asyncio.sleep(_POLL_SECONDS)
    finally:
        await conn.close()


def _unreachable(plans: list[_Plan], what: str, exc: BaseException) -> list[Finding]:
    return [Finding("events", p.name, "error", p.consumer.name,
                    f"cannot reach {what}: {type(exc).__name__}: {exc}") for p in plans]


async def run_event_checks(target: EventTarget, *, seed: int | None = None,
                           count: int = 5) -> list[Finding]:
    """One finding per subscription of the workspace (see the module docstring). Never raises
    for an unreachable broker or database: those are ``error`` findings."""
    started = time.perf_counter()
    seed = random.randrange(2**32) if seed is None else seed
    plans, findings = _plans(target.loaded, seed, max(1, count))
    if not plans:
        return findings
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            await _publish(target.bootstrap, plans)
    except Exception as exc:  # the broker is a part we report on, not a crash
        return findings + _unreachable(plans, f"Kafka at {target.bootstrap}", exc)
    try:
        return findings + await _wait(target.dsn, plans, started, seed)
    except (OSError, asyncpg.PostgresError) as exc:
        return findings + _unreachable(plans, "PostgreSQL", exc)
