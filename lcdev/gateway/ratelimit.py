"""Token-bucket rate limits, one bucket per policy scope and client.

A bucket holds up to ``requests + burst`` tokens and refills at ``requests / per_s`` tokens a
second; a request takes one token or is refused with the seconds until one is back. Buckets
outlive configuration reloads (their key includes the limit, so a changed limit starts a fresh
bucket) and full ones are forgotten now and then, so memory follows the active clients.
"""

from __future__ import annotations

import math
import time

from lcdev.gateway.schema import RateLimitConfig

__all__ = ["TokenBuckets"]

_SWEEP_EVERY_S = 60.0


class TokenBuckets:
    """All buckets of the gateway."""

    def __init__(self) -> None:
        # (scope, client) -> (tokens, last refill time, capacity, tokens per second)
        self._buckets: dict[tuple[str, str], tuple[float, float, float, float]] = {}
        self._next_sweep = time.monotonic() + _SWEEP_EVERY_S

    def __len__(self) -> int:
        return len(self._buckets)

    @staticmethod
    def scope_key(scope: str, limit: RateLimitConfig) -> str:
        """The bucket scope of ``limit`` applied at ``scope``; a changed limit is a new one."""
        return f"{scope} {limit.requests}/{limit.per_s}s+{limit.burst}"

    def take(self, scope_key: str, limit: RateLimitConfig, client: str) -> int:
        """Take a token: 0 when allowed, else the whole seconds to wait (``Retry-After``)."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
        key = (scope_key, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            capacity = float(limit.requests + limit.burst)
            rate = limit.requests / limit.per_s
            tokens = capacity
        else:
            tokens, last, capacity, rate = bucket
            tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now, capacity, rate)
            return 0
        self._buckets[key] = (tokens, now, capacity, rate)
        return max(1, math.ceil((1.0 - tokens) / rate))

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + _SWEEP_EVERY_S
        full = [key for key, (tokens, last, capacity, rate) in self._buckets.items()
                if tokens + (now - last) * rate >= capacity]
        for key in full:
            del self._buckets[key]
