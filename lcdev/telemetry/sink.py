"""Where decoded telemetry goes: the ``TelemetrySink`` interface and an in-memory sink.

The OTLP receiver and the supervisor's line sink hand records to a ``TelemetrySink``; the
store's ``TelemetryWriter`` is the real one. ``MemorySink`` is a second, real implementation
that keeps everything in lists, for tests and for tools that want records without a database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord

__all__ = ["MemorySink", "TelemetrySink"]


@runtime_checkable
class TelemetrySink(Protocol):
    """Accepts batches of records. Implementations must be thread-safe and must not block."""

    def add_logs(self, records: Sequence[LogRecord]) -> None: ...

    def add_spans(self, records: Sequence[SpanRecord]) -> None: ...

    def add_metrics(self, records: Sequence[MetricPoint]) -> None: ...


class MemorySink:
    """Keeps every record it is given, in arrival order; safe to use from any thread.

    ``wait_for`` lets a test wait for records that arrive from another thread or process
    without sleeping a fixed time.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._logs: list[LogRecord] = []
        self._spans: list[SpanRecord] = []
        self._metrics: list[MetricPoint] = []

    def add_logs(self, records: Sequence[LogRecord]) -> None:
        with self._changed:
            self._logs.extend(records)
            self._changed.notify_all()

    def add_spans(self, records: Sequence[SpanRecord]) -> None:
        with self._changed:
            self._spans.extend(records)
            self._changed.notify_all()

    def add_metrics(self, records: Sequence[MetricPoint]) -> None:
        with self._changed:
            self._metrics.extend(records)
            self._changed.notify_all()

    @property
    def logs(self) -> list[LogRecord]:
        """A copy of the log records received so far."""
        with self._changed:
            return list(self._logs)

    @property
    def spans(self) -> list[SpanRecord]:
        """A copy of the spans received so far."""
        with self._changed:
            return list(self._spans)

    @property
    def metrics(self) -> list[MetricPoint]:
        """A copy of the metric points received so far."""
        with self._changed:
            return list(self._metrics)

    def wait_for(self, condition: Callable[[MemorySink], bool], timeout: float = 5.0) -> bool:
        """Block until ``condition(self)`` holds or ``timeout`` seconds pass; say which.

        Call it from a thread other than the one delivering records (e.g. through
        ``asyncio.to_thread`` when the receiver runs in the caller's event loop).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True
