"""aiokafka clients set up for lcdev, and the few broker operations the events part needs.

Timeouts are short (a local broker answers in milliseconds; a broker that does not answer in
a few seconds is down, and the caller retries with backoff instead of hanging for aiokafka's
40 s default). Topics are created explicitly with ONE partition: lcdev only ever uses
partition 0, and tansu would otherwise auto-create a topic with several partitions the first
time any client asks for its metadata.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from lcdev.runtime.events.retry import stopping

__all__ = [
    "REQUEST_TIMEOUT_MS",
    "close_quietly",
    "ensure_topics",
    "existing_topics",
    "high_watermarks",
    "make_admin",
    "make_consumer",
    "make_producer",
    "partition0",
]

REQUEST_TIMEOUT_MS = 5000
_TOPIC_EXISTS = 36
_COMMON: dict[str, Any] = {
    "request_timeout_ms": REQUEST_TIMEOUT_MS,
    "retry_backoff_ms": 50,
    "metadata_max_age_ms": 30_000,
}


def partition0(topic: str) -> TopicPartition:
    """The only partition lcdev uses."""
    return TopicPartition(topic, 0)


def make_producer(bootstrap: str) -> AIOKafkaProducer:
    """A producer that waits for the broker's ack (``acks=all``) and sends at once."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                            client_id="lcdev-relay", **_COMMON)


def make_consumer(bootstrap: str, *, client_id: str = "lcdev-consumer",
                  fetch_max_wait_ms: int = 10) -> AIOKafkaConsumer:
    """A consumer for manual partition assignment: no group, no offset commits to Kafka.

    ``fetch_max_wait_ms`` is short because tansu answers a fetch with no data only when the wait
    ends, not when data arrives; the consumer pauses its partitions when idle instead.
    """
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                            enable_auto_commit=False, auto_offset_reset="earliest",
                            fetch_max_wait_ms=fetch_max_wait_ms, client_id=client_id,
                            **_COMMON)


def make_admin(bootstrap: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="lcdev-admin",
                               request_timeout_ms=REQUEST_TIMEOUT_MS, retry_backoff_ms=50)


async def existing_topics(admin: AIOKafkaAdminClient) -> set[str]:
    """Topics the broker has (asking for all topics never auto-creates one)."""
    return set(await admin.list_topics())


async def ensure_topics(admin: AIOKafkaAdminClient, topics: Iterable[str]) -> None:
    """Create the missing ones of ``topics`` with one partition; raises ``KafkaError``."""
    wanted = sorted(set(topics))
    if not wanted:
        return
    response = await admin.create_topics([NewTopic(t, 1, 1) for t in wanted])
    for error in response.topic_errors:
        topic, code = error[0], error[1]
        if code not in (0, _TOPIC_EXISTS):
            detail = error[2] if len(error) > 2 else ""
            raise KafkaError(f"cannot create topic {topic}: error {code} {detail or ''}")


async def high_watermarks(consumer: AIOKafkaConsumer, positions: Mapping[str, int], *,
                          timeout: float = 2.0) -> dict[str, int]:
    """The end offset of partition 0 of each topic, from fetch responses (tansu's ListOffsets
    answers the start of the last record batch + 1, not the end of the log).

    ``consumer`` is (re)assigned to these partitions: use one kept for such questions.
    ``positions`` says where each fetch starts (a record known to exist gives an answer at
    once). Topics that did not answer within ``timeout`` are left out.
    """
    partitions = {topic: partition0(topic) for topic in positions}
    consumer.assign(list(partitions.values()))
    for topic, tp in partitions.items():
        consumer.seek(tp, max(0, positions[topic]))
    found: dict[str, int] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while partitions and asyncio.get_running_loop().time() < deadline:
        await consumer.getmany(*partitions.values(), timeout_ms=20, max_records=1)
        for topic, tp in list(partitions.items()):
            highwater = consumer.highwater(tp)
            if highwater is not None:
                found[topic] = int(highwater)
                del partitions[topic]
    return found


async def close_quietly(*clients: Any) -> None:
    """Stop producers/consumers and close admin clients, ignoring errors of a dead broker."""
    for client in clients:
        if client is None:
            continue
        try:
            if isinstance(client, AIOKafkaAdminClient):
                await client.close()
            else:
                await client.stop()
        except asyncio.CancelledError:
            if stopping():
                raise
        except Exception:  # a client of a dead broker cannot do better
            pass
