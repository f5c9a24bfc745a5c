"""Records as plain JSON objects for ``--json``: every field, times as ISO-8601 UTC and ns.

Scripts read these, so names follow the records (``lcdev.telemetry.records``) and only grow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lcdev.cli.views.span_tree import span_rows
from lcdev.cli.views.style import iso_time
from lcdev.telemetry.records import LogRecord, SpanRecord

if TYPE_CHECKING:
    from lcdev.telemetry.store import TraceSummary

__all__ = ["log_json", "span_json", "trace_detail_json", "trace_json"]


def log_json(record: LogRecord) -> dict[str, Any]:
    """The log record, its message uncut."""
    return {
        "id": record.id,
        "time": iso_time(record.time_ns),
        "time_ns": record.time_ns,
        "service": record.service,
        "stream": record.stream,
        "level": record.level,
        "message": record.message,
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "attributes": dict(record.attributes),
    }


def span_json(span: SpanRecord, depth: int = 0) -> dict[str, Any]:
    return {
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "depth": depth,
        "service": span.service,
        "name": span.name,
        "kind": span.kind,
        "start": iso_time(span.start_ns),
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "duration_ms": span.duration_ns / 1_000_000,
        "status": span.status,
        "status_message": span.status_message,
        "attributes": dict(span.attributes),
        "events": [{"name": event.name, "time": iso_time(event.time_ns),
                    "time_ns": event.time_ns, "attributes": dict(event.attributes)}
                   for event in span.events],
    }


def trace_detail_json(trace_id: str, spans: Sequence[SpanRecord],
                      logs: Sequence[LogRecord]) -> dict[str, Any]:
    """The trace's spans in tree order (parents before children, ``depth`` from 0) and its
    log lines in time order."""
    start = min((span.start_ns for span in spans), default=0)
    end = max((span.end_ns for span in spans), default=start)
    return {
        "trace_id": trace_id,
        "start": iso_time(start) if spans else None,
        "duration_ms": (end - start) / 1_000_000,
        "span_count": len(spans),
        "services": sorted({span.service for span in spans}),
        "error": any(span.status == "error" for span in spans),
        "spans": [span_json(row.span, row.depth) for row in span_rows(spans)],
        "logs": [log_json(log) for log in logs],
    }


def trace_json(trace: TraceSummary) -> dict[str, Any]:
    """One row of ``lcdev traces``."""
    return {
        "trace_id": trace.trace_id,
        "start": iso_time(trace.start_ns),
        "start_ns": trace.start_ns,
        "duration_ms": trace.duration_ns / 1_000_000,
        "root_service": trace.root_service,
        "root_name": trace.root_name,
        "root_route": trace.root_route,
        "span_count": trace.span_count,
        "services": list(trace.services),
        "error": trace.error,
        "status_code": trace.root_status or None,
    }
