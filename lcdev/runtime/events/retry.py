"""Backoff for retried actions (bounded attempts) and for reconnecting (unbounded).

Delays grow exponentially from ``initial`` to ``maximum``; with ``jitter`` each delay is drawn
from [delay/2, delay] so replicas that failed together do not retry in lockstep.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

__all__ = ["Backoff", "RetryPolicy", "stop_task", "stopping", "wait_event"]


def stopping() -> bool:
    """Whether the current task is being cancelled (``stop()``), as opposed to a
    ``CancelledError`` raised by awaiting a future a library cancelled — aiokafka cancels the
    pending requests of a connection that closes, e.g. when the broker restarts. Background
    loops must re-raise the first and retry after the second."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing action is retried before it is dead-lettered."""

    attempts: int = 3
    initial: float = 0.05
    maximum: float = 1.0
    factor: float = 2.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt - 1))
        return random.uniform(base / 2, base) if self.jitter else base


class Backoff:
    """Unbounded retries (a broker or database that is down): ``next()`` is the next delay,
    ``reset()`` after a success."""

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self.policy = policy or RetryPolicy(initial=0.05, maximum=2.0)
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return self.policy.delay(self.failures)

    def reset(self) -> None:
        self.failures = 0


async def wait_event(event: asyncio.Event, timeout: float) -> None:
    """Wait until ``event`` is set or ``timeout`` passes. (``asyncio.wait_for`` of Python 3.11
    can swallow a cancellation that arrives as the event is set, and a stop() would hang.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, timeout)):
            await event.wait()


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a background loop and wait until it ended, cancelling again should a library
    have swallowed the cancellation."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1.0)
    error = None if task.cancelled() else task.exception()
    if error is not None:
        raise error
