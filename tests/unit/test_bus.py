"""``EventBus``: history for late subscribers, logs kept apart, slow subscribers never block."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from lcdev.core.events import (
    ComponentReady,
    ComponentStarting,
    Event,
    LogLineEmitted,
    StackReady,
    StackStopped,
)
from lcdev.supervisor.bus import EventBus

QUEUE_SIZE = 10000  # what EventBus gives each subscriber


def _line(n: int, source: str = "postgres") -> LogLineEmitted:
    return LogLineEmitted(source=source, stream="stdout", text=f"line {n}")


async def _drain(stream: AsyncIterator[Event]) -> list[Event]:
    async with asyncio.timeout(2):
        return [event async for event in stream]


async def _reading(stream: AsyncIterator[Event]) -> asyncio.Task[list[Event]]:
    """A reader that has consumed any replay and now waits for live events."""
    task = asyncio.ensure_future(_drain(stream))
    for _ in range(3):
        await asyncio.sleep(0)
    return task


def test_late_subscriber_gets_history_then_live_events() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus()
        bus.publish(ComponentStarting(name="db", port=1))
        bus.publish(ComponentReady(name="db", seconds=0.1, url="tcp://db"))
        reader = await _reading(bus.subscribe(include_logs=False, replay=bus.history()))
        bus.publish(StackReady(seconds=1.0, gateway_url=""))
        bus.close()
        return await reader

    seen = asyncio.run(scenario())
    names = [type(e).__name__ for e in seen]
    assert names == ["ComponentStarting", "ComponentReady", "StackReady"]


def test_log_lines_are_kept_apart_from_life_cycle_history() -> None:
    bus = EventBus(history=10, log_lines=3)
    bus.publish(ComponentStarting(name="db", port=1))
    for n in range(50):
        bus.publish(_line(n, source="db" if n % 2 else "kafka"))
    assert [type(e).__name__ for e in bus.history()] == ["ComponentStarting"]
    assert [e.text for e in bus.log_tail()] == ["line 47", "line 48", "line 49"]
    assert [e.text for e in bus.log_tail("kafka")] == ["line 48"]
    assert [e.text for e in bus.log_tail(limit=1)] == ["line 49"]
    assert len(bus.log_tail(limit=0)) == 3  # 0: everything kept


def test_history_is_bounded() -> None:
    bus = EventBus(history=2)
    for port in range(5):
        bus.publish(ComponentStarting(name="db", port=port))
    assert [e.port for e in bus.history() if isinstance(e, ComponentStarting)] == [3, 4]


def test_subscriber_without_logs_only_sees_life_cycle_events() -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        bus = EventBus()
        quiet = await _reading(bus.subscribe(include_logs=False))
        chatty = await _reading(bus.subscribe(include_logs=True))
        bus.publish(_line(1))
        bus.publish(StackStopped())
        bus.close()
        return await quiet, await chatty

    quiet, chatty = asyncio.run(scenario())
    assert [type(e).__name__ for e in quiet] == ["StackStopped"]
    assert [type(e).__name__ for e in chatty] == ["LogLineEmitted", "StackStopped"]


def test_slow_subscriber_loses_its_oldest_items_instead_of_blocking() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus(log_lines=10)
        reader = await _reading(bus.subscribe(include_logs=True))
        # The reader gets no turn while the producer publishes more than its queue holds;
        # publish is synchronous, so returning at all proves it never waited for the reader.
        for n in range(QUEUE_SIZE + 5):
            bus.publish(_line(n))
        bus.close()
        return await reader

    received = asyncio.run(scenario())
    texts = [e.text for e in received if isinstance(e, LogLineEmitted)]
    assert len(texts) == QUEUE_SIZE - 1  # the close marker took the last place
    assert texts[0] == "line 6"
    assert texts[-1] == f"line {QUEUE_SIZE + 4}"


def test_close_ends_every_subscription() -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        bus = EventBus()
        first = await _reading(bus.subscribe(include_logs=True))
        second = await _reading(bus.subscribe(include_logs=False, replay=bus.history()))
        bus.close()
        return await first, await second

    assert asyncio.run(scenario()) == ([], [])


def test_subscribing_after_close_replays_and_ends() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus()
        bus.publish(StackStopped())
        bus.close()
        return await _drain(bus.subscribe(include_logs=False, replay=bus.history()))

    assert [type(e).__name__ for e in asyncio.run(scenario())] == ["StackStopped"]


def test_event_published_right_after_subscribing_is_not_lost() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus()
        stream = bus.subscribe(include_logs=False, replay=bus.history())
        bus.publish(StackReady(seconds=1.0, gateway_url=""))  # e.g. while headers are sent
        bus.close()
        return await _drain(stream)

    assert [type(e).__name__ for e in asyncio.run(scenario())] == ["StackReady"]


def test_events_queued_during_replay_survive_close() -> None:
    async def scenario() -> list[Event]:
        bus = EventBus()
        bus.publish(ComponentStarting(name="db", port=1))
        stream = bus.subscribe(include_logs=False, replay=bus.history())
        first = await anext(stream)  # a client reading its replay slowly
        bus.publish(StackStopped())  # the supervisor finishes and exits meanwhile
        bus.close()
        return [first, *await _drain(stream)]

    seen = [type(e).__name__ for e in asyncio.run(scenario())]
    assert seen == ["ComponentStarting", "StackStopped"]
