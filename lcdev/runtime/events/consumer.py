"""``EventConsumers``: reads the topics a service consumes and applies each record exactly once.

- Partitions are taken by manual assignment (tansu's consumer-group protocol takes seconds);
  reading starts at the ``next_offset`` stored in the service's ``lcdev_consumer_offsets``
  (0 when none), and that offset is written in the transaction of each record's effect
  (handling.py), so a restart resumes exactly where the committed effects end.
- Latency without burning CPU: tansu answers an empty fetch only when its wait ends, so fetches
  wait 10 ms while records flow; after ~100 ms without records the partitions are paused and
  the consumer sleeps until a relay's NOTIFY on ``lcdev_events`` names one of its topics (or
  ``idle_poll`` passes, for producers that do not notify).
- The broker may restart empty (tansu keeps nothing). Every ``idle_poll`` the consumer checks
  each topic: missing, or a stored offset beyond the end, means the log was lost and it starts
  again from the beginning. A relay that re-publishes a topic says so (``replay:<topic>``) and
  the consumer restarts that topic too. At start, and every ``verify_interval``, the first
  record of each log is compared with what was processed: a first record never processed, or
  written after it was processed, means a new log, read again from the beginning. Re-reading is
  safe: processed event ids are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from lcdev.definitions import FieldDefinition, ServiceDefinition
from lcdev.runtime.events import kafka
from lcdev.runtime.events.actions import ConsumerActions
from lcdev.runtime.events.conditions import resolve_settings
from lcdev.runtime.events.handling import RecordHandler, record_id
from lcdev.runtime.events.listen import Listener
from lcdev.runtime.events.retry import Backoff, RetryPolicy, stop_task, stopping, wait_event
from lcdev.runtime.events.subscriptions import Producers, Subscription, subscriptions
from lcdev.runtime.events.tables import EventTables
from lcdev.runtime.events.wire import EVENTS_CHANNEL, REPLAY_PREFIX, EnvelopeError, decode_envelope

__all__ = ["EventConsumers"]

log = logging.getLogger("lcdev.runtime.events")
_KAFKA_STEP_TIMEOUT = 10.0
"""Seconds a check of the broker may take; after that the clients are made afresh (aiokafka
can wait forever for a partition a restarted broker does not serve yet)."""


class EventConsumers:
    """The consumers of one service's ``consumes`` entries (see the module docstring)."""

    def __init__(self, pool: Any, service: ServiceDefinition, bootstrap: str,
                 actions: ConsumerActions, *, producers: Producers | None = None,
                 topics: Mapping[str, str] | None = None,
                 producer_schemas: Mapping[str, Mapping[str, FieldDefinition]] | None = None,
                 retry: RetryPolicy | None = None, settings: Mapping[str, Any] | None = None,
                 idle_poll: float = 1.0, verify_interval: float = 10.0) -> None:
        self.pool, self.service, self.bootstrap = pool, service, bootstrap
        self.idle_poll, self.verify_interval = idle_poll, verify_interval
        self.subscriptions: list[Subscription] = subscriptions(
            service, producers=producers, topics=topics, producer_schemas=producer_schemas)
        self.tables = EventTables.of(service)
        values = resolve_settings(service) if settings is None else settings
        self._handlers = {
            sub.topic: RecordHandler(pool, self.tables, sub, actions, consumer=sub.topic,
                                     settings=values, retry=retry or RetryPolicy(),
                                     service=service.name)
            for sub in self.subscriptions}
        self.counts: Counter[str] = Counter()
        """Records handled so far, by outcome (applied, skipped, duplicate, dead_lettered)."""
        self._next: dict[str, int] = {}
        self._ends: dict[str, int] = {}
        self._replayed: set[str] = set()
        self._wake = asyncio.Event()
        self._listener = Listener(pool, [EVENTS_CHANNEL], self._on_notify)
        self._consumer: Any = None
        self._probe: Any = None
        self._admin: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def topics(self) -> list[str]:
        return list(self._handlers)

    def lag(self) -> dict[str, int]:
        """Records not yet applied, per topic: end offset − next offset to apply.

        The end is the high watermark of the partition's last fetch response (tansu's
        ListOffsets answers the start of the last batch, not the end of the log), so it is at
        most ``idle_poll`` old while connected. Only topics whose end is known are listed, and
        none while the broker is unreachable (an old end would be presented as current)."""
        if self._consumer is None:
            return {}
        ends, positions = dict(self._ends), dict(self._next)  # atomic copies: a metrics
        # reader thread calls this while the event loop changes them
        return {t: max(0, end - positions.get(t, 0)) for t, end in ends.items()
                if t in self._handlers}

    async def start(self) -> None:
        """LISTEN for relays, then consume in the background (a broker that is down is retried,
        never raised)."""
        if self._task is not None or not self._handlers:
            return
        await self._listener.ensure()
        self._task = asyncio.create_task(self._run(), name=f"lcdev-consumers-{self.service.name}")

    async def stop(self) -> None:
        """Stop consuming; a record being applied is rolled back and read again next time."""
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        await self._listener.close()
        await self._disconnect()

    def _on_notify(self, _channel: str, payload: str) -> None:
        topic = payload.removeprefix(REPLAY_PREFIX)
        if topic in self._handlers:
            if payload.startswith(REPLAY_PREFIX):
                self._replayed.add(topic)
            self._wake.set()

    async def _run(self) -> None:
        backoff = Backoff()
        while not stopping():
            try:
                await self._listener.ensure()
                async with asyncio.timeout(_KAFKA_STEP_TIMEOUT * 2):
                    await self._connect()
                backoff.reset()
                await self._consume()
            except (Exception, asyncio.CancelledError) as exc:  # offsets are in the database
                if isinstance(exc, asyncio.CancelledError) and stopping():
                    raise
                await self._failed(backoff, exc)

    async def _failed(self, backoff: Backoff, exc: BaseException) -> None:
        """Log (not every time), drop the clients and wait before reconnecting."""
        delay = backoff.next()
        if backoff.failures in (1, 4) or backoff.failures % 32 == 0:
            log.warning("%s: consumers cannot read yet (%s: %s); retrying in %.2fs",
                        self.service.name, type(exc).__name__, exc, delay)
        await self._disconnect()
        await asyncio.sleep(delay)

    async def _connect(self) -> None:
        consumer = kafka.make_consumer(self.bootstrap, client_id=f"lcdev-{self.service.name}")
        probe = kafka.make_consumer(self.bootstrap, client_id=f"lcdev-{self.service.name}-probe")
        admin = kafka.make_admin(self.bootstrap)
        try:
            await consumer.start()
            await probe.start()
            await admin.start()
        except BaseException:
            await kafka.close_quietly(consumer, probe, admin)
            raise
        self._consumer, self._probe, self._admin = consumer, probe, admin
        topics = self.topics
        await kafka.ensure_topics(admin, topics)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT topic, next_offset FROM {self.tables.offsets}"
                                    " WHERE partition = 0 AND topic = ANY($1::text[])", topics)
        self._next = {t: 0 for t in topics} | {r["topic"]: int(r["next_offset"]) for r in rows}
        self._ends.clear()  # ends seen before a reconnection may be of a log that is gone
        while self._replayed:  # announced while disconnected
            self._next[self._replayed.pop()] = 0
        consumer.assign([kafka.partition0(t) for t in topics])
        ends = await kafka.high_watermarks(
            probe, {t: self._next[t] - 1 for t in topics if self._next[t] > 0})
        await self._check(verify=True, ends=ends)
        for topic in topics:
            consumer.seek(kafka.partition0(topic), self._next[topic])

    async def _disconnect(self) -> None:
        # Forget the clients only once closed: a stop() cancelling this closes the rest.
        await kafka.close_quietly(self._consumer, self._probe, self._admin)
        self._consumer = self._probe = self._admin = None

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        partitions = [kafka.partition0(t) for t in self.topics]
        next_check = loop.time() + self.idle_poll
        next_verify = loop.time() + self.verify_interval
        paused, empty = False, 0
        while not stopping():
            if paused:
                await wait_event(self._wake, next_check - loop.time())
                self._consumer.resume(*partitions)
                paused, empty = False, 0
            self._wake.clear()
            while self._replayed:
                self._restart(self._replayed.pop(), "its producer re-publishes it")
            batch = await self._consumer.getmany(timeout_ms=50)
            for tp, records in batch.items():
                await self._apply(tp, records)
            empty = 0 if batch else empty + 1
            now = loop.time()
            if now >= next_check:
                verify = now >= next_verify
                await self._listener.ensure()
                async with asyncio.timeout(_KAFKA_STEP_TIMEOUT):  # else: reconnect afresh
                    await self._check(verify=verify)
                next_check = now + self.idle_poll
                next_verify = now + self.verify_interval if verify else next_verify
            if empty >= 2 and not self._wake.is_set() and not self._replayed:
                self._consumer.pause(*partitions)
                paused = True

    async def _apply(self, tp: Any, records: list[Any]) -> None:
        handler = self._handlers[tp.topic]
        self._note_end(tp)  # the lag while this batch is applied
        for record in records:
            if tp.topic in self._replayed:
                return  # the topic is read again from its start on the next round
            outcome = await handler.handle(record)
            self.counts[outcome] += 1
            self._next[tp.topic] = record.offset + 1
        self._note_end(tp)

    def _note_end(self, tp: Any) -> None:
        highwater = self._consumer.highwater(tp)
        if highwater is not None:
            self._ends[tp.topic] = int(highwater)

    def _restart(self, topic: str, why: str) -> None:
        if self._next.get(topic, 0) > 0:
            log.warning("%s: reading %s again from its start (%s)", self.service.name, topic, why)
        self._next[topic] = 0
        if self._consumer is not None:
            self._consumer.seek(kafka.partition0(topic), 0)

    async def _check(self, *, verify: bool, ends: Mapping[str, int] | None = None) -> None:
        """Start a topic again from its beginning when its log was lost or replaced. ``ends``:
        end offsets when known, else the high watermarks of the last fetches."""
        present = await kafka.existing_topics(self._admin)
        missing = [t for t in self.topics if t not in present]
        if missing:
            await kafka.ensure_topics(self._admin, missing)
        for topic in self.topics:
            end = ends.get(topic) if ends is not None else self._consumer.highwater(
                kafka.partition0(topic))
            if end is not None:
                self._ends[topic] = int(end)
            position = self._next[topic]
            if position == 0:
                continue
            if topic in missing:
                self._restart(topic, "the broker lost the topic")
            elif end is not None and position > end:
                self._restart(topic, "the broker's log is shorter than what was read")
            elif verify and await self._log_replaced(topic, position):
                self._restart(topic, "the broker's log was replaced")

    async def _log_replaced(self, topic: str, position: int) -> bool:
        """Whether the first record of the log is not the one this consumer processed."""
        tp = kafka.partition0(topic)
        self._probe.assign([tp])
        self._probe.seek(tp, 0)  # a log that starts later is read from its start anyway
        batch = await self._probe.getmany(tp, timeout_ms=1000, max_records=1)
        records = batch.get(tp) or []
        if not records or records[0].offset >= position:
            return False
        first = records[0]
        try:
            envelope = decode_envelope(first.value)
        except EnvelopeError:
            envelope = None
        async with self.pool.acquire() as conn:
            seen = await conn.fetchval(
                f"SELECT processed_at FROM {self.tables.processed} WHERE event_id = $1",
                record_id(first, envelope))
        # Relays stamp records with the database clock, so a record written after it was
        # processed was written again: a new log.
        return seen is None or int(first.timestamp) > int(seen.timestamp() * 1000)
