"""What the telemetry store keeps: log lines, spans and metric points.

Plain frozen dataclasses shared by the OTLP decoder, the log-line parser, the store and the
front ends. Ids are lower-case hex (trace 32 chars, span 16 chars) or ``""`` when unknown; times
are Unix epoch nanoseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "LEVELS",
    "Level",
    "LogRecord",
    "MetricPoint",
    "SpanEvent",
    "SpanKind",
    "SpanRecord",
    "SpanStatus",
]

Level = Literal["trace", "debug", "info", "warn", "error", "fatal"]
LEVELS: tuple[Level, ...] = ("trace", "debug", "info", "warn", "error", "fatal")
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
SpanStatus = Literal["unset", "ok", "error"]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One line a process printed (``stream`` stdout/stderr) or one OTLP log record (``otlp``)."""

    time_ns: int
    service: str
    stream: str
    level: Level
    message: str
    trace_id: str = ""
    span_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    id: int = 0  # the store's row id once stored (ascending in arrival order); 0 before


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    service: str  # resource service.name
    name: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    status: SpanStatus = "unset"
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[SpanEvent] = ()  # an exception is an event named "exception"

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def route(self) -> str:
        """``http.route`` (or ``messaging.destination.name``) when the span has one."""
        value = self.attributes.get("http.route") or self.attributes.get(
            "messaging.destination.name"
        )
        return str(value) if value else ""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One data point: a sum or gauge value, or a histogram's count/sum (value = sum)."""

    time_ns: int
    service: str
    name: str
    kind: Literal["sum", "gauge", "histogram"]
    value: float
    attributes: Mapping[str, Any] = field(default_factory=dict)
    unit: str = ""
    count: int = 0  # histogram data points: how many observations
