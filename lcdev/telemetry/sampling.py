"""Trace every request at a developer's pace; bound what tracing costs under load.

A root span (a request or event that does not continue a trace) is sampled while the process
has budget — ``per_second`` new traces a second, as a token bucket — and dropped beyond it.
Spans that continue a trace follow their parent's decision (``ParentBased``), so a trace is
always whole: the gateway decides for a request, and every service and Kafka hop follows.
Dropped spans are non-recording: they cost a few microseconds and export nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

__all__ = ["RateLimitedSampler", "rate_limited"]


class RateLimitedSampler(Sampler):
    """Samples at most ``per_second`` root spans a second (bursts up to one second's worth)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self._tokens = per_second
        self._last = time.monotonic()
        self._lock = threading.Lock()
        self.dropped = 0

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.per_second,
                               self._tokens + (now - self._last) * self.per_second)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)
            self.dropped += 1
        return SamplingResult(Decision.DROP, None, trace_state)

    def get_description(self) -> str:
        return f"RateLimitedSampler{{{self.per_second:g}/s}}"


def rate_limited(per_second: float) -> Sampler:
    """Parent-based sampling whose roots are rate limited (see the module docstring)."""
    return ParentBased(root=RateLimitedSampler(per_second))
