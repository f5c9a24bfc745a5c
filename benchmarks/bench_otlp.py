"""The OTLP path of a span: encoding in the exporting process, decoding in the supervisor.

Spans come from the real SDK (a server span and SQL client spans per request, as the runtime
makes them); encoded by lcdev's OTLP/JSON exporter (orjson) and by the SDK's protobuf encoder;
decoded by the receiver from protobuf and from JSON. Best of several runs of 512 spans (a
BatchSpanProcessor batch).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as pb_encode
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

from lcdev.telemetry.export_json import encode_spans as json_encode
from lcdev.telemetry.otlp.decode import decode_traces

SPANS, RUNS = 512, 15


def request_spans(count: int) -> Sequence[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    while len(exporter.get_finished_spans()) < count:
        server = tracer.start_span("GET /orders/orders/{id}", kind=SpanKind.SERVER, attributes={
            "http.request.method": "GET", "url.path": "/orders/orders/0193", "http.route":
            "/orders/orders/{id}", "http.response.status_code": 200})
        sql = tracer.start_span("SELECT order", context=set_span_in_context(server),
                                kind=SpanKind.CLIENT, attributes={
                                    "db.system": "postgresql", "db.operation.name": "SELECT",
                                    "db.collection.name": "order",
                                    "db.query.text": 'SELECT * FROM "order" WHERE id = $1'})
        sql.end()
        server.end()
    return exporter.get_finished_spans()[:count]


def best_us_per_span(run: Callable[[], Any]) -> float:
    fastest = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest / SPANS * 1e6


def main() -> None:
    spans = request_spans(SPANS)
    protobuf = pb_encode(spans).SerializeToString()
    as_json = json_encode(spans)
    encode_pb = best_us_per_span(lambda: pb_encode(spans).SerializeToString())
    encode_json = best_us_per_span(lambda: json_encode(spans))
    decode_pb = best_us_per_span(lambda: decode_traces(protobuf, "application/x-protobuf"))
    decode_json = best_us_per_span(lambda: decode_traces(as_json, "application/json"))
    print(f"OTLP spans, {SPANS} per request, best of {RUNS}:")
    print(f"  encode  protobuf (SDK) {encode_pb:6.1f} µs/span   "
          f"JSON (lcdev, orjson) {encode_json:6.1f} µs/span   ({encode_pb / encode_json:.1f}×)")
    print(f"  decode  protobuf {1e6 / decode_pb:9,.0f} spans/s   "
          f"JSON {1e6 / decode_json:9,.0f} spans/s   (target: ingest ≥ 10,000 spans/s)")


if __name__ == "__main__":
    main()
