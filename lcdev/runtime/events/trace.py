"""W3C trace context carried by events, and the spans of an event's way.

The OpenTelemetry context is the carrier: a request's server span (api/tracing.py), an outbox
write, a consumed record's span — whatever span is current names the trace.
:data:`current_trace_headers` gives its ``traceparent``/``tracestate``; ``enqueue`` stores them
with the outbox row; the relay sends them as the Kafka headers of a *publish* span it starts
from them; the consumer starts its *process* span from the record's headers, so one trace runs
gateway → service → outbox → Kafka → consumer → its own events.

While no tracer provider is installed (a service run by hand, no ``OTEL_*`` endpoint) no span
is made at all, to keep that path nearly free; the headers then travel verbatim in
:data:`passed_trace_headers` (the HTTP middleware sets it from the request, the consumer from
the record), and :data:`current_trace_headers` falls back to them.

Spans (docs/telemetry-internals.md): ``outbox <topic>`` (internal, around the outbox insert),
``publish <topic>`` (producer, one per record, ended at the broker's ack), ``process <topic>``
(consumer, one per record, around its handling, retries and dead letter included) and
``<service>.<action>`` (internal, one per consumes entry applied).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind

from lcdev.runtime.observability.spans import (
    activated,
    context_from_headers,
    headers_of,
    mark_error,
    remote_parent,
    tracer,
    tracing_enabled,
)

__all__ = [
    "TRACE_HEADERS",
    "CurrentTraceHeaders",
    "acting",
    "consuming",
    "current_trace_headers",
    "end_publish",
    "passed_trace_headers",
    "start_publish",
    "trace_headers",
    "unsampled",
    "using_trace_headers",
    "writing_outbox",
]

TRACE_HEADERS = ("traceparent", "tracestate")
_EMPTY: Mapping[str, str] = MappingProxyType({})

passed_trace_headers: ContextVar[Mapping[str, str]] = ContextVar(
    "lcdev_trace_headers", default=_EMPTY
)
"""Headers (lower-case names) of the request or record being handled; their trace headers,
verbatim, are what :data:`current_trace_headers` answers when no span with a valid context is
current. (The HTTP middleware sets the request's whole header dict: filtering it only when an
event is written keeps every request cheap.)"""


class CurrentTraceHeaders:
    """``current_trace_headers.get()``: the trace headers of the current span (its own
    ``traceparent``, so a span started from them is its child), else the ones passed on
    verbatim; empty when neither."""

    def get(self) -> Mapping[str, str]:
        if trace.get_current_span().get_span_context().is_valid:
            return headers_of()
        passed = passed_trace_headers.get()
        return {name: passed[name] for name in TRACE_HEADERS if name in passed}


current_trace_headers = CurrentTraceHeaders()
"""The trace headers of the request or event being handled (empty when none)."""


def trace_headers(source: Mapping[str, str] | Iterable[tuple[str, bytes | str]]) -> dict[str, str]:
    """The W3C trace headers found in HTTP headers (a mapping) or Kafka headers (pairs)."""
    pairs = source.items() if isinstance(source, Mapping) else source
    found: dict[str, str] = {}
    for name, value in pairs:
        lower = name.lower()
        if lower in TRACE_HEADERS:
            found[lower] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return found


@contextmanager
def using_trace_headers(headers: Mapping[str, str]) -> Iterator[None]:
    """Make ``headers`` the current trace context inside the block: the parent of the spans
    started in it (when tracing is on and the ``traceparent`` is valid) and what
    :data:`current_trace_headers` answers until such a span is current."""
    given = trace_headers(headers)
    token = passed_trace_headers.set(MappingProxyType(given))
    parent = context_from_headers(given) if tracing_enabled() else None
    attached = otel_context.attach(parent) if parent is not None else None
    try:
        yield
    finally:
        if attached is not None:
            otel_context.detach(attached)
        passed_trace_headers.reset(token)


@contextmanager
def writing_outbox(topic: str, headers: Mapping[str, str] | None) -> Iterator[dict[str, str]]:
    """Around an outbox insert: the ``outbox <topic>`` span is current in the block (child of
    the trace in ``headers`` when they hold one, else of the current span), and the block gets
    the headers to store with the row — ``headers`` with the trace context of that span."""
    given = dict(headers or {})
    if not tracing_enabled():
        yield {**current_trace_headers.get(), **given}
        return
    span = tracer.start_span(f"outbox {topic}", context=_parent(given), kind=SpanKind.INTERNAL,
                             attributes={"messaging.destination.name": topic})
    with activated(span):
        own = headers_of(span)
        yield {**given, **own} if own else {**current_trace_headers.get(), **given}


def _parent(given: Mapping[str, str]) -> Context | None:
    """The parent of a span: the trace in ``given`` headers, else the current span, else the
    headers passed on verbatim (an app without the server-span middleware)."""
    if "traceparent" in given:
        return context_from_headers(trace_headers(given))
    if trace.get_current_span().get_span_context().is_valid:
        return None
    return context_from_headers(current_trace_headers.get())


def start_publish(topic: str, event_id: str,
                  stored: Mapping[str, str]) -> tuple[Span | None, dict[str, str]]:
    """The ``publish <topic>`` span of one record (a child of the trace stored with its outbox
    row) and the headers to send, which name that span; ``(None, stored)`` when tracing is
    off. End the span with :func:`end_publish`."""
    if not tracing_enabled():
        return None, dict(stored)
    span = tracer.start_span(
        f"publish {topic}", context=remote_parent(trace_headers(stored)),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "kafka", "messaging.operation.type": "send",
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": "0",
                    "messaging.message.id": event_id})
    return span, {**stored, **headers_of(span)}


def unsampled(stored: Mapping[str, str]) -> dict[str, str]:
    """The stored trace headers with the sampled flag cleared: a re-published (replayed) record
    keeps its trace id, but neither its publish nor the consumers' skip of an event they
    already processed adds spans to a trace that ended long ago (which would stretch it to
    hours, and cost a full trace per retained event after every broker restart)."""
    headers = dict(stored)
    parent = headers.get("traceparent", "")
    flags = parent[53:]
    if len(parent) == 55 and parent[52] == "-" and all(c in _HEX for c in flags):
        headers["traceparent"] = f"{parent[:53]}{int(flags, 16) & 0xFE:02x}"
    return headers


_HEX = frozenset("0123456789abcdef")


def end_publish(span: Span | None, result: Any) -> None:
    """End a publish span with the broker's answer: its metadata (the offset) or an error."""
    if span is None:
        return
    if isinstance(result, BaseException):
        mark_error(span, result)
    else:
        offset = getattr(result, "offset", None)
        if isinstance(offset, int):
            span.set_attribute("messaging.kafka.offset", offset)
    span.end()


@contextmanager
def consuming(record: Any, headers: Mapping[str, str], event_id: str) -> Iterator[Span]:
    """Around the handling of one consumed record: its ``process <topic>`` span is current,
    a child of the record's ``traceparent`` (the producer's publish span). When tracing is
    off, the record's trace headers are passed on verbatim and the span is a no-op."""
    if not tracing_enabled():
        with using_trace_headers(headers):
            yield INVALID_SPAN
        return
    span = tracer.start_span(
        f"process {record.topic}", context=remote_parent(trace_headers(headers)),
        kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "kafka", "messaging.operation.type": "process",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": int(record.offset),
                    "messaging.message.id": event_id})
    with activated(span):
        yield span


@contextmanager
def acting(name: str, attributes: Mapping[str, str]) -> Iterator[None]:
    """Around one consumer action: a ``<service>.<action>`` span, current, when tracing is on
    (an exception leaving the block marks it as failed)."""
    if not tracing_enabled():
        yield
        return
    with activated(tracer.start_span(name, attributes=dict(attributes))):
        yield
