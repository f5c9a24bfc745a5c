"""The runtime's tracer and the few span helpers every part uses.

Spans come from the *global* OpenTelemetry API (``trace.get_tracer("lcdev.runtime")``): the
process installs a provider once (``lcdev.telemetry.sdk.setup_telemetry`` after the fork, the
tests' in-memory one), and the module-level proxy tracer follows it. Nothing here creates a
provider, a thread or an exporter.

``tracing_enabled()`` tells whether a real provider is installed. Hot paths (HTTP requests, SQL
statements) use it to skip span work altogether when it is not: the API's no-op spans are
correct but not free (a no-op ``start_as_current_span`` costs ~7 µs here, a W3C ``extract``
~7 µs), and a request's whole CPU budget is ~200 µs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "INSTRUMENTATION",
    "activated",
    "context_from_headers",
    "headers_of",
    "mark_error",
    "remote_parent",
    "tracer",
    "tracing_enabled",
]

INSTRUMENTATION = "lcdev.runtime"
tracer = trace.get_tracer(INSTRUMENTATION)
"""A proxy: it starts real spans once a provider is installed, no-op spans before."""

_W3C = TraceContextTextMapPropagator()
_enabled = False


def tracing_enabled() -> bool:
    """Whether a tracer provider is installed (once installed, it stays: the API allows one)."""
    global _enabled
    if not _enabled:
        _enabled = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return _enabled


def context_from_headers(headers: Mapping[str, str]) -> Context | None:
    """The W3C trace context (``traceparent``/``tracestate``, lower-case names) as the parent
    for a span; ``None`` when there is no valid ``traceparent``."""
    if "traceparent" not in headers:
        return None
    found = _W3C.extract(headers)
    return found if trace.get_current_span(found).get_span_context().is_valid else None


def remote_parent(headers: Mapping[str, str]) -> Context:
    """The parent for a span of work that came from elsewhere (a request, a record): the trace
    in ``headers``, else an empty context, so the span starts a trace of its own rather than
    joining whatever the task running it inherited."""
    return context_from_headers(headers) or Context()


def headers_of(span: Span | None = None) -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) naming ``span`` (default: the current span);
    empty when it has no valid context."""
    carrier: dict[str, str] = {}
    ctx = None if span is None else trace.set_span_in_context(span)
    _W3C.inject(carrier, ctx)
    return carrier


def mark_error(span: Span, exc: BaseException, description: str | None = None) -> None:
    """Record ``exc`` on ``span`` (an ``exception`` event) and set its status to error."""
    if span.is_recording():
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR,
                               description or f"{type(exc).__name__}: {exc}"))


@contextmanager
def activated(span: Span) -> Iterator[Span]:
    """``span`` as the current span inside the block; an exception leaving the block is
    recorded on it; the span ends with the block. (Cheaper than the API's
    ``start_as_current_span`` through a proxy tracer, which stacks three context managers.)"""
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    except Exception as exc:
        mark_error(span, exc)
        raise
    finally:
        otel_context.detach(token)
        span.end()
