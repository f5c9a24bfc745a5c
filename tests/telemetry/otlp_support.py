"""Helpers for the OTLP receiver tests: build export requests, run a receiver in a thread.

The receiver is meant to live in its host's event loop; here that loop runs in a background
thread so that tests can talk to it with plain blocking clients (httpx, a subprocess).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from lcdev.telemetry.otlp.forward import Forwarder
from lcdev.telemetry.otlp.receiver import MAX_BODY_BYTES, OtlpReceiver
from lcdev.telemetry.sink import MemorySink

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}
GZIP_PROTOBUF = {**PROTOBUF, "content-encoding": "gzip"}

HTTP_ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "GET", "url.path": "/orders/123", "http.route": "/orders/{id}",
    "http.response.status_code": 200, "server.address": "127.0.0.1", "server.port": 8080,
    "lcdev.upstream": "http://127.0.0.1:9000", "network.protocol.version": "1.1",
}


def span_request(names: Sequence[str], service: str = "orders",
                 attributes: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    """A request with one server span per name, each with ``attributes`` (HTTP ones default)."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.add(key="service.name",
                                           value=AnyValue(string_value=service))
    spans = resource_spans.scope_spans.add().spans
    for index, name in enumerate(names):
        span = spans.add(trace_id=os.urandom(16), span_id=os.urandom(8), name=name, kind=2,
                         start_time_unix_nano=1_700_000_000_000_000_000 + index,
                         end_time_unix_nano=1_700_000_000_001_000_000 + index)
        for key, value in (HTTP_ATTRIBUTES if attributes is None else attributes).items():
            span.attributes.add(key=key, value=any_value(value))
    return request


def span_body(names: Sequence[str], service: str = "orders") -> bytes:
    body: bytes = span_request(names, service).SerializeToString()
    return body


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    return AnyValue(string_value=str(value))


@contextmanager
def serving(sink: MemorySink, forwarder: Forwarder | None = None, port: int = 0,
            max_body_bytes: int | None = None) -> Iterator[OtlpReceiver]:
    """An ``OtlpReceiver`` started in an event loop of its own thread; stopped on exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="receiver-loop", daemon=True)
    thread.start()
    receiver = OtlpReceiver(port=port, sink=sink, forwarder=forwarder,
                            max_body_bytes=max_body_bytes or MAX_BODY_BYTES)
    try:
        asyncio.run_coroutine_threadsafe(receiver.start(), loop).result(10)
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(receiver.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
