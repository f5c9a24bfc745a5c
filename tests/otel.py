"""One in-memory span exporter for the whole test process.

OpenTelemetry's global tracer provider can be set once per process, so it is set here, the
first time a test asks for the ``spans`` fixture; instrumented code gets its tracer from the
global API (``opentelemetry.trace.get_tracer``) and so reports into this exporter.
``InMemorySpanExporter`` is the SDK's own second implementation of the exporter interface.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def span_exporter() -> InMemorySpanExporter:
    """The process-wide exporter, installing the global provider on first use."""
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    return _exporter
