"""What the receiver has taken and refused, for ``OtlpReceiver.stats()`` and ``lcdev status``."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lcdev.telemetry.otlp.payload import Signal

__all__ = ["ReceiverCounters", "ReceiverStats"]


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """Counts since the receiver started. ``accepted``/``items`` are keyed by signal."""

    accepted: dict[Signal, int]  # requests answered 200
    items: dict[Signal, int]  # spans, log records and metric points they carried
    rejected: int  # requests answered 4xx/5xx
    last_error: str  # why the last rejected request was refused ("" when none was)


class ReceiverCounters:
    """Thread-safe counters behind ``ReceiverStats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: dict[Signal, int] = {"traces": 0, "logs": 0, "metrics": 0}
        self._items: dict[Signal, int] = {"traces": 0, "logs": 0, "metrics": 0}
        self._rejected = 0
        self._last_error = ""

    def accepted(self, signal: Signal, items: int) -> None:
        with self._lock:
            self._accepted[signal] += 1
            self._items[signal] += items

    def rejected(self, error: str) -> None:
        with self._lock:
            self._rejected += 1
            self._last_error = error

    def snapshot(self) -> ReceiverStats:
        with self._lock:
            return ReceiverStats(
                accepted=dict(self._accepted), items=dict(self._items),
                rejected=self._rejected, last_error=self._last_error,
            )
