"""The workspace's telemetry store: one SQLite file of logs, spans and metric points.

``TelemetryWriter`` (the supervisor) batches records into it from a thread;
``TelemetryStore`` answers the CLI's and TUI's questions from read-only connections.
See docs/telemetry-internals.md, section "The store".
"""

from lcdev.telemetry.store.store import TelemetryStore
from lcdev.telemetry.store.types import (
    MAX_MESSAGE_CHARS,
    LogQuery,
    PruneResult,
    RouteMetrics,
    StoreError,
    StoreLimits,
    StoreStats,
    StoreUnavailable,
    TraceDetail,
    TraceQuery,
    TraceSummary,
    WriterStats,
)
from lcdev.telemetry.store.writer import TelemetryWriter

__all__ = [
    "MAX_MESSAGE_CHARS",
    "LogQuery",
    "PruneResult",
    "RouteMetrics",
    "StoreError",
    "StoreLimits",
    "StoreStats",
    "StoreUnavailable",
    "TelemetryStore",
    "TelemetryWriter",
    "TraceDetail",
    "TraceQuery",
    "TraceSummary",
    "WriterStats",
]
