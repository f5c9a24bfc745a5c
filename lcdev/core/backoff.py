"""Restart policy for crashed components: exponential backoff, capped, reset after stability."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RestartPolicy"]


@dataclass(frozen=True)
class RestartPolicy:
    """``delay(n)`` is the wait before the n-th restart (1-based) of a crash loop; a component
    that stayed up for ``stable_after`` seconds starts a fresh loop."""

    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 10.0
    stable_after: float = 30.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * self.factor ** max(0, attempt - 1)))
