"""A real OpenTelemetry SDK, in its own process, exports traces, logs and metrics to us."""

from __future__ import annotations

import os
import subprocess
import sys

from lcdev.telemetry.sink import MemorySink
from tests.telemetry.otlp_support import serving

# The logs exporter compresses (gzip) to cover that path with a real sender too.
SDK_PROGRAM = """
import sys

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

endpoint = sys.argv[1]
resource = Resource.create({"service.name": "checkout", "service.namespace": "shop"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(
    BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(
    OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", compression=Compression.Gzip)))
reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=60_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])

log = logger_provider.get_logger("checkout.tests")
tracer = tracer_provider.get_tracer("checkout.tests")
meter = meter_provider.get_meter("checkout.tests")
orders = meter.create_counter("orders.placed", unit="1")
duration = meter.create_histogram("checkout.duration", unit="ms")

with tracer.start_as_current_span(
    "POST /checkout", kind=trace.SpanKind.SERVER,
    attributes={"http.request.method": "POST", "http.route": "/checkout"},
):
    log.emit(severity_number=SeverityNumber.WARN, severity_text="WARN",
             body="payment declined for order 42", attributes={"order.id": 42})
    try:
        with tracer.start_as_current_span("charge card", kind=trace.SpanKind.CLIENT) as child:
            child.set_attribute("payment.amount", 12.5)
            raise ValueError("card declined")
    except ValueError:
        pass
    orders.add(3, {"region": "eu"})
    duration.record(12.0)
    duration.record(30.0)

tracer_provider.shutdown()
logger_provider.shutdown()
meter_provider.shutdown()
"""


def test_a_real_sdk_exports_spans_logs_and_metrics() -> None:
    sink = MemorySink()
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("OTEL_")}
    with serving(sink) as receiver:
        result = subprocess.run(
            [sys.executable, "-c", SDK_PROGRAM, receiver.endpoint],
            capture_output=True, text=True, timeout=60, env=environment,
        )
        stats = receiver.stats()
    assert result.returncode == 0, result.stderr
    assert stats.rejected == 0, stats.last_error
    assert stats.accepted["traces"] >= 1
    assert stats.accepted["logs"] >= 1
    assert stats.accepted["metrics"] >= 1

    spans = {span.name: span for span in sink.spans}
    assert set(spans) == {"POST /checkout", "charge card"}
    parent, child = spans["POST /checkout"], spans["charge card"]
    assert parent.parent_span_id == ""
    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id
    assert len(parent.trace_id) == 32
    assert len(parent.span_id) == 16
    assert {parent.service, child.service} == {"checkout"}
    assert (parent.kind, child.kind) == ("server", "client")
    assert parent.attributes["http.route"] == "/checkout"
    assert parent.route == "/checkout"
    assert child.attributes["payment.amount"] == 12.5
    assert child.status == "error"
    assert "card declined" in child.status_message
    assert parent.status == "unset"
    [exception] = child.events
    assert exception.name == "exception"
    assert exception.attributes["exception.type"] == "ValueError"
    assert exception.attributes["exception.message"] == "card declined"
    assert "Traceback" in exception.attributes["exception.stacktrace"]
    assert parent.start_ns <= child.start_ns <= child.end_ns <= parent.end_ns

    [log] = sink.logs
    assert (log.service, log.level, log.stream) == ("checkout", "warn", "otlp")
    assert log.message == "payment declined for order 42"
    assert log.attributes == {"order.id": 42}
    assert (log.trace_id, log.span_id) == (parent.trace_id, parent.span_id)
    assert parent.start_ns <= log.time_ns <= parent.end_ns

    points = {point.name: point for point in sink.metrics}
    counter, histogram = points["orders.placed"], points["checkout.duration"]
    assert (counter.kind, counter.value, counter.service) == ("sum", 3.0, "checkout")
    assert counter.attributes == {"region": "eu"}
    assert (histogram.kind, histogram.value, histogram.count) == ("histogram", 42.0, 2)
    assert histogram.unit == "ms"
