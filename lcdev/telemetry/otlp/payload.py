"""From request bytes to an OTLP ``Export*ServiceRequest`` message.

Handles what OTLP/HTTP allows on the wire: binary protobuf or OTLP JSON, optionally gzip'd.
(OTLP JSON traces and logs are usually read without a protobuf message at all, by
``jsonfast``; this module's JSON path serves metrics and requests that must be forwarded.)
OTLP JSON differs from protobuf's canonical JSON mapping in one way that matters: trace and
span ids are hex strings, not base64 — they are rewritten before ``json_format`` sees them
(base64 ids, as some older senders wrote, still parse). Field names may be lowerCamelCase or
snake_case and enums names or numbers, as ``json_format`` accepts; unknown fields are ignored,
as the OTLP specification requires of receivers.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any, Literal

import orjson
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import (  # type: ignore[import-untyped, unused-ignore]
    DecodeError,
    Message,
)
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = [
    "MAX_DECODED_BYTES",
    "OtlpDecodeError",
    "PayloadTooLarge",
    "Signal",
    "UnsupportedMediaType",
    "WireFormat",
    "decompress",
    "empty_response",
    "parse_json_document",
    "parse_request",
    "read_body",
    "to_protobuf",
    "wire_format",
]

Signal = Literal["traces", "logs", "metrics"]
WireFormat = Literal["protobuf", "json"]

MAX_DECODED_BYTES = 64 * 1024 * 1024
"""Largest payload after gzip decompression: a small gzip body can expand enormously."""

_REQUESTS: dict[str, type[Any]] = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
_RESPONSES: dict[str, type[Any]] = {
    "traces": ExportTraceServiceResponse,
    "logs": ExportLogsServiceResponse,
    "metrics": ExportMetricsServiceResponse,
}
_MEDIA_TYPES: dict[str, WireFormat] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_ID_SIZES = {  # bytes: trace ids are 16, span ids 8
    "traceId": 16, "trace_id": 16, "spanId": 8, "span_id": 8,
    "parentSpanId": 8, "parent_span_id": 8,
}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class OtlpDecodeError(ValueError):
    """The payload is not a valid OTLP request; the message says why."""


class UnsupportedMediaType(OtlpDecodeError):
    """The content type or content encoding is not one OTLP/HTTP defines."""


class PayloadTooLarge(OtlpDecodeError):
    """The payload, once decompressed, is larger than the receiver accepts."""


def wire_format(content_type: str | None) -> WireFormat | None:
    """``protobuf`` or ``json`` for a Content-Type header (parameters ignored), else None."""
    if not content_type:
        return None
    media_type = content_type.split(";", 1)[0].strip().lower()
    return _MEDIA_TYPES.get(media_type)


def parse_request(
    signal: Signal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    *,
    max_bytes: int = MAX_DECODED_BYTES,
) -> tuple[Any, bytes]:
    """The parsed ``Export*ServiceRequest`` and its uncompressed body."""
    fmt, raw = read_body(body, content_type, content_encoding, max_bytes=max_bytes)
    message = _REQUESTS[signal]()
    if fmt == "protobuf":
        try:
            message.ParseFromString(raw)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OtlpDecodeError(
                f"invalid OTLP protobuf {_REQUESTS[signal].__name__}: {exc}"
            ) from None
    else:
        _parse_json(raw, message)
    return message, raw


def read_body(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None = None,
    *,
    max_bytes: int = MAX_DECODED_BYTES,
) -> tuple[WireFormat, bytes]:
    """The wire format named by ``content_type`` and the body with its encoding undone."""
    fmt = wire_format(content_type)
    if fmt is None:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not application/x-protobuf or application/json"
        )
    return fmt, decompress(body, content_encoding, max_bytes)


def parse_json_document(raw: bytes) -> dict[str, Any]:
    """An OTLP JSON body as the object it must be."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"invalid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise OtlpDecodeError(
            f"OTLP JSON must be an object, not {type(document).__name__}"
        )
    return document


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body with its Content-Encoding (gzip or none) undone, at most ``max_bytes`` long."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"payload is larger than {max_bytes} bytes")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(f"content encoding {content_encoding!r} is not gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"invalid gzip body: {exc}") from None
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"payload is larger than {max_bytes} bytes once decompressed")
    if not inflater.eof:
        raise OtlpDecodeError("invalid gzip body: truncated")
    return raw


def empty_response(signal: Signal, fmt: WireFormat) -> bytes:
    """An empty ``Export*ServiceResponse`` (full success) in the request's wire format."""
    if fmt == "json":
        return b"{}"
    serialized: bytes = _RESPONSES[signal]().SerializeToString()
    return serialized


def to_protobuf(message: Message) -> bytes:
    """The binary form of a parsed request (what a forwarder re-sends)."""
    serialized: bytes = message.SerializeToString()
    return serialized


def _parse_json(raw: bytes, message: Message) -> None:
    document = parse_json_document(raw)
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise OtlpDecodeError(f"invalid OTLP JSON {type(message).__name__}: {exc}") from None


def _hex_ids_to_base64(node: Any) -> None:
    """Rewrite, in place, every trace/span id of an OTLP JSON document as base64.

    Ids appear under the same keys in spans, links, log records and exemplars, and attribute
    keys are never dictionary keys in OTLP JSON (they are ``{"key": ..., "value": ...}``), so
    a walk over the whole document cannot touch user data. An id that is neither hex nor
    base64 of the right length is refused here, with its name, rather than stored as garbage.
    """
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str):
                    if key in _ID_SIZES and value:
                        item[key] = _id_as_base64(key, value)
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def _id_as_base64(key: str, value: str) -> str:
    size = _ID_SIZES[key]
    if len(value) == 2 * size and _HEX_DIGITS.issuperset(value):
        return base64.b64encode(bytes.fromhex(value)).decode("ascii")
    try:
        if len(base64.b64decode(value, validate=True)) == size:
            return value
    except ValueError:
        pass
    raise OtlpDecodeError(f"{key} {value[:80]!r} is not {2 * size} hex digits")
