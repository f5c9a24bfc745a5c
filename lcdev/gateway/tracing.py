"""Request ids and W3C trace context (https://www.w3.org/TR/trace-context/).

The gateway is a span of the trace: a caller's valid ``traceparent`` keeps its trace id and
flags and gets the gateway's own span id as the new parent; an absent or invalid one starts a
new, sampled trace (and an invalid one's ``tracestate`` is dropped, as the spec requires).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

__all__ = ["TraceContext", "new_request_id", "request_id_from", "trace_context"]

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_MAX_REQUEST_ID = 200


# Ids only need to be unique, not secret: ``random`` is ten times cheaper than ``os.urandom``.


def new_request_id() -> str:
    """A new request id: 32 lower-case hex digits."""
    return f"{random.getrandbits(128):032x}"


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-Id`` when it is a sane printable token, else a new one."""
    if header and len(header) <= _MAX_REQUEST_ID and header.isprintable():
        return header
    return new_request_id()


@dataclass(slots=True)
class TraceContext:
    """The trace the request belongs to and the gateway's span in it."""

    trace_id: str
    span_id: str
    flags: str
    parent_id: str | None  # the caller's span, when it sent a valid traceparent
    tracestate: str | None

    @property
    def traceparent(self) -> str:
        """The ``traceparent`` sent upstream: the gateway's span is the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def _valid(match: re.Match[str] | None) -> bool:
    if match is None:
        return False
    version, trace_id, parent_id, _ = match.groups()
    return version != "ff" and trace_id != _ZERO_TRACE and parent_id != _ZERO_SPAN


def trace_context(traceparent: str | None, tracestate: str | None) -> TraceContext:
    """Continue the caller's trace, or start one."""
    span_id = f"{random.getrandbits(64):016x}"
    if traceparent is not None:
        text = traceparent.strip()
        match = _TRACEPARENT.match(text)
        # version 00 is exactly 55 characters; later versions may append fields
        if _valid(match) and match is not None and (len(text) == 55 or (
                match.group(1) != "00" and text[55:56] == "-")):
            _, trace_id, parent_id, flags = match.groups()
            return TraceContext(trace_id, span_id, flags, parent_id, tracestate or None)
    return TraceContext(f"{random.getrandbits(128):032x}", span_id, "01", None, None)

