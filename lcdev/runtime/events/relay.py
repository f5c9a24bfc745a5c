"""``OutboxRelay``: publishes a service's committed outbox rows to Kafka, in order, and replays
them when the broker comes back empty.

- Wakes on the NOTIFY that ``enqueue`` sends at commit, and polls every ``poll_interval`` in case
  a notification was missed.
- Publishes in batches inside one transaction: the rows are taken ``FOR UPDATE SKIP LOCKED``
  under a per-schema advisory lock (one replica publishes at a time, so order is kept and no row
  is published twice by two relays), sent with ``acks=all``, and marked ``published_at`` only
  after the broker acked every record. If sending fails or times out the transaction rolls
  back: the rows stay unpublished and are sent again after a backoff (a record the broker got
  but did not ack may then appear twice; consumers skip the duplicate).
- Published rows are kept ``retention`` (24 h) and then deleted.
- Each record sent gets a ``publish <topic>`` producer span, a child of the trace context
  stored with its row, ended at the broker's ack; the record's ``traceparent`` names that span
  (so the consumers' spans are its children). Without a tracer provider the stored headers are
  sent as they are.
- tansu keeps nothing across a restart. The relay notices (a topic it published to is gone, or
  its end offset is below what was acked; at start: fewer records than retained published rows)
  and calls :meth:`OutboxRelay.replay_all`, which marks every retained row unpublished again so
  they are all re-sent, in their original order. Consumers skip what they already applied.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from opentelemetry.trace import Span

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.events import kafka
from lcdev.runtime.events.listen import Listener
from lcdev.runtime.events.retry import Backoff, stop_task, stopping, wait_event
from lcdev.runtime.events.tables import EventTables
from lcdev.runtime.events.trace import end_publish, start_publish, unsampled
from lcdev.runtime.events.wire import (
    EVENTS_CHANNEL,
    REPLAY_PREFIX,
    encode_envelope,
    kafka_headers,
)

__all__ = ["OutboxRelay"]

log = logging.getLogger("lcdev.runtime.events")
_KAFKA_STEP_TIMEOUT = 10.0
"""Seconds a check of the broker may take before it counts as a failure (and is retried)."""


class OutboxRelay:
    """Moves committed outbox rows of one service to Kafka (see the module docstring)."""

    def __init__(self, pool: Any, service: ServiceDefinition, bootstrap: str, *,
                 poll_interval: float = 1.0, check_interval: float = 1.0,
                 batch_size: int = 200, send_timeout: float = 5.0,
                 retention: dt.timedelta = dt.timedelta(hours=24),
                 cleanup_interval: float = 300.0) -> None:
        self.pool, self.service, self.bootstrap = pool, service, bootstrap
        self.poll_interval, self.check_interval = poll_interval, check_interval
        self.batch_size, self.send_timeout = batch_size, send_timeout
        self.retention, self.cleanup_interval = retention, cleanup_interval
        self.tables = EventTables.of(service)
        self.published = 0
        """Records the broker acked (replays included)."""
        self.replays = 0
        """How many times every retained row was re-published."""
        self._replayed_before: Any = None
        """Rows created up to this time are being re-published: housekeeping, not traced."""
        self._wake = asyncio.Event()
        self._listener = Listener(pool, [self.tables.outbox_channel],
                                  lambda _c, _p: self._wake.set())
        self._producer: Any = None
        self._admin: Any = None
        self._watcher: Any = None
        self._acked: dict[str, int] = {}
        self._ready_topics: set[str] = set()
        self._verified = False
        self._task: asyncio.Task[None] | None = None
        t = self.tables
        self._sql_batch = (
            f"SELECT id, event, topic, key, payload::text AS payload, headers::text AS headers,"
            f" created_at, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms"
            f" FROM {t.outbox} WHERE published_at IS NULL ORDER BY created_at, id LIMIT $1"
            f" FOR UPDATE SKIP LOCKED")
        self._sql_mark = (
            f"WITH marked AS (UPDATE {t.outbox} SET published_at = clock_timestamp()"
            f" WHERE id = ANY($1::uuid[]) RETURNING 1)"
            f" SELECT pg_notify('{EVENTS_CHANNEL}', topic) FROM unnest($2::text[]) AS topic")

    async def start(self) -> None:
        """LISTEN for enqueued events, then publish in the background (never raises for a
        broker that is down: it keeps retrying)."""
        if self._task is not None:
            return
        await self._listener.ensure()
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name=f"lcdev-relay-{self.service.name}")

    async def stop(self) -> None:
        """Stop publishing; a batch being sent is rolled back and sent again on next start."""
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        await self._listener.close()
        await self._disconnect()

    async def replay_all(self, *, reason: str = "asked to") -> int:
        """Mark every retained published row unpublished so all are sent again; returns how
        many. Safe at any time: consumers skip events they have already processed."""
        async with self.pool.acquire() as conn, conn.transaction():
            self._replayed_before = await conn.fetchval("SELECT clock_timestamp()")
            rows = await conn.fetch(
                f"WITH r AS (UPDATE {self.tables.outbox} SET published_at = NULL"
                f" WHERE published_at IS NOT NULL RETURNING topic)"
                f" SELECT topic, count(*) AS n FROM r GROUP BY topic")
            for row in rows:  # delivered at commit: consumers read these topics from the start
                await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL,
                                   REPLAY_PREFIX + row["topic"])
        count = sum(row["n"] for row in rows)
        self._acked.clear()
        self._ready_topics.clear()
        self.replays += 1
        self._wake.set()
        log.warning("%s: re-publishing %d retained events (%s)", self.service.name, count,
                    reason)
        return int(count)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff()
        next_check = next_cleanup = 0.0
        while not stopping():
            self._wake.clear()
            try:
                if await self._listener.ensure():
                    self._wake.set()
                if not self._verified:
                    async with asyncio.timeout(_KAFKA_STEP_TIMEOUT):
                        await self._verify_at_start()
                while await self._publish_batch() >= self.batch_size:
                    pass
                if loop.time() >= next_check:
                    async with asyncio.timeout(_KAFKA_STEP_TIMEOUT):
                        await self._check_broker()
                    next_check = loop.time() + self.check_interval
                if loop.time() >= next_cleanup:
                    await self._cleanup()
                    next_cleanup = loop.time() + self.cleanup_interval
                backoff.reset()
            except (Exception, asyncio.CancelledError) as exc:  # nothing is lost: rows wait
                if isinstance(exc, asyncio.CancelledError) and stopping():
                    raise
                delay = backoff.next()
                if backoff.failures in (1, 4) or backoff.failures % 32 == 0:
                    log.warning("%s: relay cannot publish yet (%s: %s); retrying in %.2fs",
                                self.service.name, type(exc).__name__, exc, delay)
                if backoff.failures % 3 == 0:  # start afresh if the clients do not recover
                    await self._disconnect()
                await asyncio.sleep(delay)
                continue
            await wait_event(self._wake, self.poll_interval)

    async def _connect(self) -> None:
        if self._producer is not None:
            return
        producer = kafka.make_producer(self.bootstrap)
        admin = kafka.make_admin(self.bootstrap)
        watcher = kafka.make_consumer(self.bootstrap, client_id="lcdev-relay-watch")
        try:
            await producer.start()
            await admin.start()
            await watcher.start()
        except BaseException:
            await kafka.close_quietly(producer, admin, watcher)
            raise
        self._producer, self._admin, self._watcher = producer, admin, watcher

    async def _disconnect(self) -> None:
        # Forget the clients only once closed: a stop() cancelling this closes the rest.
        await kafka.close_quietly(self._producer, self._admin, self._watcher)
        self._producer = self._admin = self._watcher = None
        self._ready_topics.clear()

    async def _ensure_topics(self, topics: Iterable[str]) -> None:
        missing = set(topics) - self._ready_topics
        if missing:
            await kafka.ensure_topics(self._admin, missing)
            self._ready_topics |= missing

    async def _publish_batch(self) -> int:
        """Publish the oldest unpublished rows; returns how many (0 if another relay is busy)."""
        lost = False
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))",
                                       self.tables.relay_lock):
                return 0
            rows = await conn.fetch(self._sql_batch, self.batch_size)
            if not rows:
                return 0
            topics = {row["topic"] for row in rows}
            async with asyncio.timeout(self.send_timeout):
                await self._connect()
                await self._ensure_topics(topics)
                metas = await self._send(rows)
            lost = self._note_acks(metas)
            await conn.execute(self._sql_mark, [row["id"] for row in rows], sorted(topics))
        self.published += len(rows)
        if lost:
            await self.replay_all(reason="the broker restarted empty")
        return len(rows)

    async def _send(self, rows: list[Any]) -> list[RecordMetadata]:
        futures = []
        spans: list[Span | None] = []
        try:
            for row in rows:
                value = encode_envelope(row["id"], row["event"], self.service.name,
                                        row["created_at"], row["payload"])
                headers = orjson.loads(row["headers"])
                if (self._replayed_before is not None
                        and row["created_at"] <= self._replayed_before):
                    span, stored = None, unsampled(headers)
                else:
                    span, stored = start_publish(row["topic"], str(row["id"]), headers)
                spans.append(span)
                futures.append(await self._producer.send(
                    row["topic"], value=value, key=row["key"].encode() if row["key"] else None,
                    partition=0, timestamp_ms=row["now_ms"],
                    headers=kafka_headers(row["id"], row["event"], stored)))
            results = await asyncio.gather(*futures, return_exceptions=True)
        except BaseException as exc:
            for span in spans:
                end_publish(span, exc)
            raise
        for span, result in zip(spans, results, strict=True):
            end_publish(span, result)
        for result in results:
            if isinstance(result, asyncio.CancelledError):  # its connection closed
                raise KafkaError("the broker connection closed before the ack")
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, RecordMetadata)]

    def _note_acks(self, metas: list[RecordMetadata]) -> bool:
        """Remember how far each topic's log reached; True when an ack shows it restarted."""
        lost = False
        for meta in metas:
            known = self._acked.get(meta.topic, 0)
            if meta.offset < known:  # offsets only grow, unless the log was lost
                lost = True
            self._acked[meta.topic] = max(known, meta.offset + 1)
        return lost

    async def _check_broker(self) -> None:
        """Replay when a topic this relay published to is gone or shorter than acked."""
        if not self._acked:
            return
        await self._connect()
        present = await kafka.existing_topics(self._admin)
        if any(topic not in present for topic in self._acked):
            await self.replay_all(reason="the broker restarted empty")
            return
        ends = await kafka.high_watermarks(
            self._watcher, {topic: acked - 1 for topic, acked in self._acked.items()})
        if any(ends.get(topic, acked) < acked for topic, acked in self._acked.items()):
            await self.replay_all(reason="the broker restarted empty")

    async def _verify_at_start(self) -> None:
        """After a restart of the relay: did the broker keep what the outbox says was sent?"""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(f"SELECT topic, count(*) AS n FROM {self.tables.outbox}"
                                    " WHERE published_at IS NOT NULL GROUP BY topic")
        sent = {row["topic"]: int(row["n"]) for row in rows}
        if sent:
            await self._connect()
            present = await kafka.existing_topics(self._admin)
            kept = {topic: n for topic, n in sent.items() if topic in present}
            ends = await kafka.high_watermarks(self._watcher,
                                               {topic: n - 1 for topic, n in kept.items()})
            if set(ends) != set(kept):
                raise TimeoutError("the broker did not tell the end of every topic")
            self._verified = True
            if any(topic not in kept or ends[topic] < n for topic, n in sent.items()):
                await self.replay_all(reason="the broker lost events published before")
                return
            self._acked.update(ends)
        self._verified = True

    async def _cleanup(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(f"DELETE FROM {self.tables.outbox} WHERE published_at IS NOT NULL"
                               " AND published_at < now() - $1::interval", self.retention)
