"""Parsed OTLP export requests → ``lcdev.telemetry.records``.

One function per signal, each walking resource → scope → item. Ids become lower-case hex
(``""`` when absent), enums become the records' literal names, and the resource's
``service.name`` becomes each record's service.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from lcdev.telemetry.levels import level_named, severity_level
from lcdev.telemetry.otlp.values import any_value, attributes, service_name
from lcdev.telemetry.records import (
    Level,
    LogRecord,
    MetricPoint,
    SpanEvent,
    SpanKind,
    SpanRecord,
    SpanStatus,
)

__all__ = ["level_of", "logs_from_request", "metrics_from_request", "spans_from_request"]

# Indexed by the protobuf enum numbers; UNSPECIFIED kind is treated as internal (as the spec says).
_KINDS: tuple[SpanKind, ...] = ("internal", "internal", "server", "client", "producer", "consumer")
_STATUSES: tuple[SpanStatus, ...] = ("unset", "ok", "error")


def spans_from_request(request: Any) -> list[SpanRecord]:
    """Every span of an ``ExportTraceServiceRequest``."""
    out: list[SpanRecord] = []
    append = out.append
    for resource_spans in request.resource_spans:
        service = service_name(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                kind = span.kind
                status = span.status
                code = status.code
                append(SpanRecord(
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    service=service,
                    name=span.name,
                    kind=_KINDS[kind] if 0 <= kind < len(_KINDS) else "internal",
                    start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano,
                    status=_STATUSES[code] if 0 <= code < len(_STATUSES) else "unset",
                    status_message=status.message,
                    attributes=attributes(span.attributes),
                    events=tuple(
                        SpanEvent(event.name, event.time_unix_nano, attributes(event.attributes))
                        for event in span.events
                    ) if span.events else (),
                ))
    return out


def logs_from_request(request: Any) -> list[LogRecord]:
    """Every log record of an ``ExportLogsServiceRequest`` (stream ``otlp``)."""
    out: list[LogRecord] = []
    received_ns = time.time_ns()
    for resource_logs in request.resource_logs:
        service = service_name(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                attrs = attributes(record.attributes)
                if record.event_name:
                    attrs.setdefault("event.name", record.event_name)
                out.append(LogRecord(
                    time_ns=record.time_unix_nano or record.observed_time_unix_nano
                    or received_ns,
                    service=service,
                    stream="otlp",
                    level=level_of(record.severity_number, record.severity_text),
                    message=_message(record),
                    trace_id=record.trace_id.hex(),
                    span_id=record.span_id.hex(),
                    attributes=attrs,
                ))
    return out


def metrics_from_request(request: Any) -> list[MetricPoint]:
    """Every data point of an ``ExportMetricsServiceRequest``.

    Gauges and sums give their value; histograms, exponential histograms and summaries give
    their sum as the value and their count (all three are kind ``histogram``).
    """
    out: list[MetricPoint] = []
    for resource_metrics in request.resource_metrics:
        service = service_name(resource_metrics.resource)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                out.extend(_points(metric, service))
    return out


def level_of(severity_number: int, severity_text: str) -> Level:
    """The level of an OTLP severity number, else of its text, else ``info``."""
    if 1 <= severity_number <= 24:
        return severity_level(severity_number)
    text = severity_text.strip()
    return level_named(text) or level_named(text.rstrip("0123456789")) or "info"


def _message(record: Any) -> str:
    if not record.HasField("body"):
        return ""
    body = any_value(record.body)
    if isinstance(body, str):
        return body
    if body is None:
        return ""
    return orjson.dumps(body).decode()


def _points(metric: Any, service: str) -> list[MetricPoint]:
    data = metric.WhichOneof("data")
    name, unit = metric.name, metric.unit
    if data in ("gauge", "sum"):
        return [
            MetricPoint(
                time_ns=point.time_unix_nano, service=service, name=name, kind=data,
                value=float(point.as_int if point.WhichOneof("value") == "as_int"
                            else point.as_double),
                attributes=attributes(point.attributes), unit=unit,
            )
            for point in getattr(metric, data).data_points
        ]
    if data in ("histogram", "exponential_histogram", "summary"):
        return [
            MetricPoint(
                time_ns=point.time_unix_nano, service=service, name=name, kind="histogram",
                value=point.sum, attributes=attributes(point.attributes), unit=unit,
                count=point.count,
            )
            for point in getattr(metric, data).data_points
        ]
    return []
