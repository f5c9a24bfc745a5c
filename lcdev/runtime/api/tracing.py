"""The server span of every HTTP request a service answers (pure ASGI, the outermost middleware).

Named ``METHOD /path/{template}`` after the route that served it (the OpenAPI path template,
also ``http.route``; just ``METHOD`` when no route matched), a child of the caller's W3C
``traceparent``/``tracestate`` (the gateway's span) or the root of a new trace. It is the
current span while the request runs, so SQL, outbox and log lines of the request belong to it.

A 5xx answer marks it as an error (the service middleware records the exception that caused
it); a 4xx does not — the server did what it should (OTel HTTP semantic conventions).

Paths in ``untraced`` (the health probe the supervisor polls) get no span: they are not
traffic anyone wants in ``lcdev traces``. Installed only when a tracer provider is
(``ServiceRuntime`` decides at start), so a service without telemetry pays nothing per request.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lcdev.runtime.observability.spans import mark_error, remote_parent, tracer

__all__ = ["TracingMiddleware"]

_TRACE_HEADERS = (b"traceparent", b"tracestate")


def _trace_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in raw if name.lower() in _TRACE_HEADERS}


def _unset(span: Span) -> bool:
    status = getattr(span, "status", None)  # an SDK span tells; the API has no getter
    return status is None or status.status_code is StatusCode.UNSET


class TracingMiddleware:
    """Wraps a service's ASGI app; see the module docstring."""

    def __init__(self, app: ASGIApp, *, untraced: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.untraced = untraced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.untraced:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        span = tracer.start_span(
            method, context=remote_parent(_trace_headers(scope["headers"])),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]})
        token = otel_context.attach(trace.set_span_in_context(span))
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception as exc:  # the service middleware answers errors; this is a last resort
            mark_error(span, exc)
            raise
        finally:
            found: dict[str, str | int] = {}
            route = getattr(scope.get("route"), "path", None)  # set by starlette's router
            if isinstance(route, str):
                span.update_name(f"{method} {route}")
                found["http.route"] = route
            if status:
                found["http.response.status_code"] = status
                if status >= 500 and _unset(span):  # keep the exception's description
                    span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(found)
            otel_context.detach(token)
            span.end()
