"""Backoff for retried actions (bounded attempts) and for reconnecting (unbounded).

Delays grow exponentially from ``initial`` to ``maximum``; with ``jitter`` each delay is drawn
from [delay/2, delay] so replicas that failed together do not retry in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff", "RetryPolicy"]


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
