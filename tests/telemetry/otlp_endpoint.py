"""A small real OTLP/HTTP endpoint for tests of the exporting side (SDK set-up, gateway).

The standard library's HTTP server in a thread on 127.0.0.1 accepts ``POST /v1/traces`` and
``/v1/metrics`` as the OTLP exporters send them (protobuf) and decodes them with
opentelemetry-proto, so a test sees exactly what left the process. It is independent of lcdev's
own receiver, which is tested on its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

__all__ = ["ExportedSpan", "OtlpEndpoint", "value"]


def value(any_value: AnyValue) -> Any:
    """The Python value of an OTLP attribute value."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(pairs: list[KeyValue]) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class ExportedSpan:
    """A span as received, with its resource's attributes and hex ids."""

    resource: dict[str, Any]
    span: Span

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_span_id(self) -> str:
        return self.span.parent_span_id.hex()

    @property
    def attributes(self) -> dict[str, Any]:
        return _attributes(list(self.span.attributes))


class OtlpEndpoint:
    """Serves on a free port until ``close``; ``url`` is the OTEL_EXPORTER_OTLP_ENDPOINT."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.spans: list[ExportedSpan] = []
        self.metric_names: list[str] = []
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path == "/v1/traces":
                    answer = endpoint._traces(body)
                elif self.path == "/v1/metrics":
                    answer = endpoint._metrics(body)
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: pytest runs with warnings as errors, not with access logs

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _traces(self, body: bytes) -> bytes:
        request = ExportTraceServiceRequest.FromString(body)
        found = [ExportedSpan(_attributes(list(rs.resource.attributes)), span)
                 for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]
        with self._lock:
            self.requests += 1
            self.spans += found
            self._lock.notify_all()
        answer: bytes = ExportTraceServiceResponse().SerializeToString()
        return answer

    def _metrics(self, body: bytes) -> bytes:
        request = ExportMetricsServiceRequest.FromString(body)
        names = [metric.name for rm in request.resource_metrics for sm in rm.scope_metrics
                 for metric in sm.metrics]
        with self._lock:
            self.requests += 1
            self.metric_names += names
            self._lock.notify_all()
        answer: bytes = ExportMetricsServiceResponse().SerializeToString()
        return answer

    def wait_span(self, check: Callable[[ExportedSpan], bool],
                  timeout: float = 10.0) -> ExportedSpan:
        """The first received span for which ``check`` holds, waiting for it to arrive."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for span in self.spans:
                    if check(span):
                        return span
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [s.name for s in self.spans]
                    raise AssertionError(f"no matching span within {timeout} s; got {names}")
                self._lock.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
