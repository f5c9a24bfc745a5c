"""One OpenTelemetry SERVER span per request, the gateway's place in the caller's trace.

The span continues the trace ``tracing.py`` already parsed from the caller's ``traceparent``
(its trace id kept, the caller's span as parent) and lends its own ids back to the exchange, so
the ``traceparent`` sent to the service and the access-log line both name this span. Names and
attributes follow the OTel HTTP semantic conventions; the route is the service's prefix.
Each attribute costs ~10 µs of CPU per request in the SDK and its exporter, so the span carries
the required and the useful ones only (the request id is in the access-log line, with the
trace id).

Imported only once tracing is switched on (the OTel API costs ~50 ms to import, which the
gateway does not pay before it answers); with tracing off the gateway never calls it.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    set_span_in_context,
)

from lcdev.gateway.exchange import Exchange

__all__ = ["RequestSpans"]

_OWN_ENDPOINTS = frozenset({"/_lcdev/health", "/_lcdev/routes", "/_lcdev/openapi.json"})


def _parent(ex: Exchange) -> Context | None:
    """The caller's span as a remote parent, or None to start a trace."""
    trace = ex.trace
    if trace.parent_id is None:
        return None
    # No trace_state: it passes upstream verbatim (tracing.py), and parsing it here would log
    # a warning per request for a caller that sends a malformed one.
    caller = SpanContext(int(trace.trace_id, 16), int(trace.parent_id, 16), is_remote=True,
                         trace_flags=TraceFlags(int(trace.flags, 16)))
    return set_span_in_context(NonRecordingSpan(caller))


class RequestSpans:
    """Starts and ends the span of each exchange with ``tracer``.

    ``host``/``port`` are where the gateway listens (``server.address``/``server.port``).
    """

    def __init__(self, tracer: Tracer, host: str, port: int) -> None:
        self.tracer = tracer
        self.host, self.port = host, port

    def start(self, ex: Exchange) -> Span:
        """Open the exchange's span and make its ids the exchange's trace context."""
        request = ex.request
        known = request.method != "-"  # "-": a request whose head could not be parsed
        attributes: dict[str, Any] = {
            "http.request.method": request.method if known else "_OTHER",
            "url.path": request.path, "url.scheme": "http",
            "server.address": self.host, "server.port": self.port,
            "client.address": ex.client,
        }
        if agent := request.get("user-agent"):
            attributes["user_agent.original"] = agent
        span = self.tracer.start_span(request.method if known else "HTTP", context=_parent(ex),
                                      kind=SpanKind.SERVER, attributes=attributes)
        context = span.get_span_context()
        if context.is_valid:  # the no-op tracer's spans are not: keep tracing.py's ids then
            trace = ex.trace
            trace.trace_id = f"{context.trace_id:032x}"
            trace.span_id = f"{context.span_id:016x}"
            trace.flags = f"{context.trace_flags:02x}"
        return span

    def end(self, ex: Exchange, span: Span, failure: BaseException | None = None) -> None:
        """Name the span after the route that answered, record the outcome and end it."""
        request = ex.request
        route = ex.route
        if route is None and request.path in _OWN_ENDPOINTS:
            route = request.path
        attributes: dict[str, Any] = {}
        if route is not None:
            span.update_name(f"{request.method} {route}")
            attributes["http.route"] = route
        if ex.service is not None:
            attributes["lcdev.upstream"] = ex.service
        if ex.status:
            attributes["http.response.status_code"] = ex.status
        if ex.error is not None:
            attributes["lcdev.error"] = ex.error
        if failure is not None:
            span.record_exception(failure)
        if ex.status >= 500 or (ex.error is not None and ex.status < 400):
            # a 5xx, or no complete answer (the client or the service broke off)
            attributes["error.type"] = str(ex.status) if ex.status >= 500 else "incomplete"
            span.set_status(Status(StatusCode.ERROR, ex.error))
        span.set_attributes(attributes)
        span.end()
