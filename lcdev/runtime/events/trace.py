"""W3C trace context carried by events: the seam OpenTelemetry will plug into.

The HTTP layer puts the request's ``traceparent``/``tracestate`` in :data:`current_trace_headers`
(or passes them to ``enqueue``); ``enqueue`` stores them with the outbox row; the relay sends
them as Kafka headers; the consumer sets :data:`current_trace_headers` from the record's headers
while it runs the action, so an action's own ``enqueue`` carries the same trace on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

__all__ = ["TRACE_HEADERS", "current_trace_headers", "trace_headers", "using_trace_headers"]

TRACE_HEADERS = ("traceparent", "tracestate")
_EMPTY: Mapping[str, str] = MappingProxyType({})

current_trace_headers: ContextVar[Mapping[str, str]] = ContextVar(
    "lcdev_trace_headers", default=_EMPTY
)
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
    """Make ``headers`` the current trace context inside the block."""
    token = current_trace_headers.set(MappingProxyType(trace_headers(headers)))
    try:
        yield
    finally:
        current_trace_headers.reset(token)
