"""Rate-limited root sampling: every trace at a developer's pace, a bounded number under load,
and never a partial trace."""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from lcdev.telemetry.sampling import RateLimitedSampler, rate_limited


def _tracer(per_second: float) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=rate_limited(per_second), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_a_burst_is_traced_up_to_the_budget_and_the_rest_is_not() -> None:
    tracer, exporter = _tracer(per_second=5)
    for _ in range(100):
        with tracer.start_as_current_span("request"):
            pass
    assert 5 <= len(exporter.get_finished_spans()) <= 6  # a refill may land during the loop


def test_the_budget_refills_with_time() -> None:
    sampler = RateLimitedSampler(per_second=50)
    decisions = [sampler.should_sample(None, 1, "x").decision.is_sampled() for _ in range(60)]
    assert decisions.count(True) == 50
    time.sleep(0.1)  # ~5 tokens back
    assert sampler.should_sample(None, 1, "x").decision.is_sampled()
    assert sampler.dropped >= 10


def test_children_follow_their_parent_so_traces_are_whole() -> None:
    tracer, exporter = _tracer(per_second=1000)
    unsampled = set_span_in_context(NonRecordingSpan(SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736, span_id=0x00F067AA0BA902B7,
        is_remote=True, trace_flags=TraceFlags(0))))
    with (tracer.start_as_current_span("continues an unsampled trace", context=unsampled),
          tracer.start_as_current_span("its SQL")):
        pass
    assert exporter.get_finished_spans() == ()

    exhausted, spent = _tracer(per_second=1)
    with exhausted.start_as_current_span("root") as root:  # takes the only token
        for _ in range(3):
            with exhausted.start_as_current_span("child"):
                pass
    assert root.get_span_context().trace_flags.sampled
    assert [s.name for s in spent.get_finished_spans()] == ["child"] * 3 + ["root"]
