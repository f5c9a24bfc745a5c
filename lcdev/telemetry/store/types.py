"""The store's questions and answers: query filters, result rows, limits and counters.

Plain frozen dataclasses so the CLI, the TUI and tests build and compare them freely; the
store itself is in ``store.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lcdev.telemetry.records import Level, LogRecord, SpanRecord

__all__ = [
    "MAX_MESSAGE_CHARS",
    "LogQuery",
    "PruneResult",
    "RouteMetrics",
    "StoreError",
    "StoreLimits",
    "StoreStats",
    "StoreUnavailable",
    "TraceDetail",
    "TraceQuery",
    "TraceSummary",
    "WriterStats",
]

MAX_MESSAGE_CHARS = 64 * 1024  # longer messages are stored cut (see LogRecord attributes)


class StoreError(Exception):
    """Base class of the store's own errors."""


class StoreUnavailable(StoreError):
    """A read-only store cannot be used: missing file, not a database, or an older schema
    (the supervisor's writer recreates it; a reader never changes the file)."""


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """How much the store keeps: rows beyond either bound are dropped, oldest first.

    ``max_bytes`` counts the pages in use plus the write-ahead log; after a prune the store is
    brought down to ``prune_to`` of the bound so that pruning is not needed on every batch.
    """

    max_bytes: int = 256 * 1024 * 1024
    max_age_s: float = 7 * 24 * 3600
    prune_to: float = 0.8


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which log lines to return, in arrival order (``LogRecord.id``).

    - ``services``: any of these (empty: all). ``min_level``: that level and above.
    - ``grep``: a Python regular expression searched in the message (case-sensitive unless the
      pattern says ``(?i)``). Literal text in it is looked up in a trigram index first.
    - ``trace_id``: lines of that trace (full id).
    - ``since_ns``/``until_ns``: bounds on the record's own time (inclusive).
    - ``after_id``: only lines stored after that one (``lcdev logs -f`` polls with the last id
      it printed; new lines always get higher ids).
    - ``newest_first``: the last ``limit`` matches, newest first; otherwise the first ``limit``
      matches (after ``after_id``) oldest first.
    """

    services: tuple[str, ...] = ()
    min_level: Level | None = None
    grep: str | None = None
    trace_id: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    after_id: int | None = None
    limit: int = 1000
    newest_first: bool = False


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """Which traces to list, newest first by start.

    ``service``: traces with at least one span of that service. ``route``: the root span's
    ``http.route`` (or messaging destination) or the end of its name (``/orders/orders/{id}``
    matches ``GET /orders/orders/{id}``). ``min_duration_ns``: the whole trace took at least that.
    """

    service: str | None = None
    route: str | None = None
    min_duration_ns: int | None = None
    errors_only: bool = False
    since_ns: int | None = None
    limit: int = 20


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One trace at a glance. The root is the span without a parent, else (spans still
    arriving, or the parent lives elsewhere) the earliest span. ``duration_ns`` spans from the
    first start to the last end of all its stored spans."""

    trace_id: str
    root_service: str
    root_name: str
    root_route: str
    start_ns: int
    duration_ns: int
    span_count: int
    services: tuple[str, ...]
    error: bool
    root_status: int = 0  # the HTTP status a request root answered; 0 for other roots


@dataclass(frozen=True, slots=True)
class TraceDetail:
    """A trace's spans ordered by start and the log lines of the trace ordered by time."""

    trace_id: str
    spans: tuple[SpanRecord, ...]
    logs: tuple[LogRecord, ...]


@dataclass(frozen=True, slots=True)
class RouteMetrics:
    """Request or event counts and latency of one (service, route, kind).

    ``kind`` is ``server`` (route = ``http.route``, else the span name), ``producer`` (count =
    events published, route = span name such as ``publish orders.order-placed``) or
    ``consumer`` (count = events consumed). ``consumer_lag`` is set on consumer rows: the sum
    over partitions of the latest ``lcdev.consumer.lag`` points of that service and topic
    (a topic with lag but no consumed events in the window gets a row with ``count`` 0).
    """

    service: str
    route: str
    kind: str
    count: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    consumer_lag: float | None = None


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Rows kept and room taken (``size_bytes`` = pages in use + write-ahead log)."""

    logs: int
    spans: int
    traces: int
    metrics: int
    size_bytes: int
    file_bytes: int
    wal_bytes: int
    oldest_ns: int | None
    newest_ns: int | None
    unindexed_logs: int  # lines not yet in the text index (searched by a scan meanwhile)


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one ``prune()`` dropped, and why."""

    logs_dropped: int = 0
    spans_dropped: int = 0
    metrics_dropped: int = 0
    by_age: bool = False
    by_size: bool = False
    size_before: int = 0
    size_after: int = 0

    @property
    def rows_dropped(self) -> int:
        return self.logs_dropped + self.spans_dropped + self.metrics_dropped


@dataclass(frozen=True, slots=True)
class WriterStats:
    """``queued``: waiting now; ``written``: stored; ``dropped``: refused because the queue was
    full; ``rejected``: records that could not be stored (bad values, database errors);
    ``pruned``: rows dropped by the limits."""

    queued: int
    written: int
    dropped: int
    rejected: int
    pruned: int
    last_error: str = ""
