"""The receiver's ASGI app: one ``POST`` endpoint per OTLP signal.

Every request ends in an answer, never an exception: 200 with an empty
``Export*ServiceResponse`` (full success) in the request's wire format; 400 for a payload
that does not decode, 413 for one over the size limit, 415 for a content type or encoding
OTLP/HTTP does not define — all ``application/problem+json`` and counted as rejected.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lcdev.telemetry.otlp.counters import ReceiverCounters
from lcdev.telemetry.otlp.decode import (
    DecodedPayload,
    OtlpDecodeError,
    PayloadTooLarge,
    Signal,
    UnsupportedMediaType,
    decode_payload,
)
from lcdev.telemetry.otlp.forward import Forwarder
from lcdev.telemetry.otlp.payload import empty_response, wire_format
from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord
from lcdev.telemetry.sink import TelemetrySink

__all__ = ["INLINE_DECODE_BYTES", "MAX_BODY_BYTES", "build_receiver_app"]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Largest request body accepted, as sent; a gzip'd body may decompress to twice that."""

INLINE_DECODE_BYTES = 16 * 1024
"""Uncompressed bodies up to this size are decoded on the event loop; larger or gzip'd ones
in a worker thread. Measured: protobuf decodes at ~50 µs/KiB, OTLP JSON at ~130 µs/KiB, and
a thread hop costs ~0.1 ms — so inline work stays under ~3 ms and big exports never stall
the loop for longer than a GIL switch interval."""

_SIGNALS: tuple[Signal, ...] = ("traces", "logs", "metrics")
_MEDIA_TYPES = {"protobuf": "application/x-protobuf", "json": "application/json"}
_TITLES = {
    400: "Bad Request", 413: "Content Too Large", 415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def build_receiver_app(
    sink: TelemetrySink,
    forwarder: Forwarder | None = None,
    *,
    counters: ReceiverCounters | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Starlette:
    """The OTLP/HTTP app; its counters are ``app.state.counters``."""
    counters = counters or ReceiverCounters()

    def endpoint(signal: Signal) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            try:
                return await _receive(request, signal)
            except Exception as exc:  # never let one request take the receiver down
                return _problem(500, f"{type(exc).__name__}: {exc}", signal)

        return receive

    async def _receive(request: Request, signal: Signal) -> Response:
        content_type = request.headers.get("content-type")
        fmt = wire_format(content_type)
        if fmt is None:
            return _problem(415, f"content type {content_type!r} is not "
                                 "application/x-protobuf or application/json", signal)
        body = await _read_body(request, max_body_bytes)
        if body is None:
            return _problem(413, f"request body is larger than {max_body_bytes} bytes", signal)
        encoding = request.headers.get("content-encoding")
        decode = functools.partial(
            decode_payload, signal, body, content_type, encoding,
            want_protobuf=forwarder is not None, max_bytes=2 * max_body_bytes,
        )
        try:
            if len(body) <= INLINE_DECODE_BYTES and encoding in (None, "", "identity"):
                decoded = decode()
            else:
                decoded = await run_in_threadpool(decode)
        except UnsupportedMediaType as exc:
            return _problem(415, str(exc), signal)
        except PayloadTooLarge as exc:
            return _problem(413, str(exc), signal)
        except OtlpDecodeError as exc:
            return _problem(400, str(exc), signal)
        _deliver(sink, decoded)
        if forwarder is not None and decoded.protobuf is not None:
            forwarder.submit(signal, decoded.protobuf)
        counters.accepted(signal, len(decoded.records))
        return Response(empty_response(signal, fmt), media_type=_MEDIA_TYPES[fmt])

    def _problem(status: int, detail: str, signal: Signal) -> Response:
        counters.rejected(f"/v1/{signal}: {status} {detail}")
        body = {"type": "about:blank", "title": _TITLES[status], "status": status,
                "detail": detail}
        return Response(orjson.dumps(body), status_code=status,
                        media_type="application/problem+json")

    app = Starlette(routes=[
        Route(f"/v1/{signal}", endpoint(signal), methods=["POST"]) for signal in _SIGNALS
    ])
    app.state.counters = counters
    return app


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _deliver(sink: TelemetrySink, decoded: DecodedPayload) -> None:
    if not decoded.records:
        return
    if decoded.signal == "traces":
        sink.add_spans(cast(Sequence[SpanRecord], decoded.records))
    elif decoded.signal == "logs":
        sink.add_logs(cast(Sequence[LogRecord], decoded.records))
    else:
        sink.add_metrics(cast(Sequence[MetricPoint], decoded.records))
