"""What a service tells about itself: spans, SQL spans, the consumer-lag gauge, JSON logs.

- ``spans``: the runtime's tracer (global OpenTelemetry API) and helpers; ``tracing_enabled``.
- ``sql``: ``TracedConnection``, the pool's connection class that makes a span per statement.
- ``lag``: the ``lcdev.consumer.lag`` observable gauge.
- ``logs``: one JSON object per log line, carrying the current trace and span ids.

The HTTP server span is in ``api/tracing.py`` and the spans of events in ``events/trace.py``.
Nothing here creates a provider, exporter or thread: ``lcdev.telemetry.sdk.setup_telemetry``
does, in ``main.py``, after the fork. See docs/telemetry-internals.md.
"""
