"""The supervisor's event bus: one stream, kept for late subscribers, fanned out live.

Life-cycle events are kept (bounded) so a client that attaches late still sees how start-up
went; log lines are kept in a separate ring so a flood of output never pushes life-cycle
history out. A slow subscriber loses its oldest queued items instead of slowing the producer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

from lcdev.core.events import Event, LogLineEmitted

__all__ = ["EventBus"]


class _Subscriber:
    def __init__(self, include_logs: bool, maxsize: int) -> None:
        self.include_logs = include_logs
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=maxsize)

    def offer(self, event: Event | None) -> None:
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()


class EventBus:
    """Publish events; subscribe to history plus live events."""

    def __init__(self, history: int = 2000, log_lines: int = 20000) -> None:
        self._lifecycle: deque[Event] = deque(maxlen=history)
        self._logs: deque[LogLineEmitted] = deque(maxlen=log_lines)
        self._subscribers: set[_Subscriber] = set()
        self._closed = False

    def publish(self, event: Event) -> None:
        if isinstance(event, LogLineEmitted):
            self._logs.append(event)
        else:
            self._lifecycle.append(event)
        for subscriber in list(self._subscribers):
            if subscriber.include_logs or not isinstance(event, LogLineEmitted):
                subscriber.offer(event)

    def history(self) -> list[Event]:
        return list(self._lifecycle)

    def log_tail(self, source: str | None = None, limit: int = 200) -> list[LogLineEmitted]:
        lines = [e for e in self._logs if source is None or e.source == source]
        return lines[-limit:] if limit else lines

    def close(self) -> None:
        """End every subscription (the supervisor is exiting)."""
        self._closed = True
        for subscriber in list(self._subscribers):
            subscriber.offer(None)

    def subscribe(
        self, *, include_logs: bool, replay: list[Event] | None = None
    ) -> AsyncIterator[Event]:
        """Yield ``replay`` first, then live events until the bus closes.

        The subscriber is registered now, at the call, not at the first iteration: an event
        published in between is queued for it, not lost."""
        subscriber = _Subscriber(include_logs, maxsize=10000)
        self._subscribers.add(subscriber)
        if self._closed:
            subscriber.offer(None)
        return self._stream(subscriber, list(replay or []))

    async def _stream(self, subscriber: _Subscriber, replay: list[Event]) -> AsyncIterator[Event]:
        try:
            for event in replay:
                yield event
            while True:  # read to the end marker: what was queued before close still counts
                item = await subscriber.queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._subscribers.discard(subscriber)
