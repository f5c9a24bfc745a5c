"""A cheap OTLP/HTTP span exporter for lcdev's own processes: OTLP/JSON encoded with orjson.

The standard ``OTLPSpanExporter`` builds protobuf messages span by span in Python (~50 µs per
span measured here) on the batch processor's thread, which competes for the GIL with the
service's event loop: with telemetry on, the gateway and the runtime lost a large share of
their throughput to it. ``OtlpJsonSpanExporter`` writes the same request in the standard
OTLP/JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: hex
ids, integer enums, 64-bit integers as decimal strings, resource → scope → spans grouping,
attributes as ``AnyValue`` objects) from plain dicts serialised by orjson, a few µs per span.

It POSTs to ``<endpoint>/v1/traces`` over one kept-alive ``http.client`` connection with a
bounded timeout, reconnecting once when the receiver closed an idle connection. It never
raises into the SDK (a failed export is ``FAILURE`` plus a log record on this module's logger,
which ``sdk.py`` rate-limits), and ``shutdown`` is immediate: it closes the socket, which also
unblocks an export stuck on a receiver that does not answer. There are no retries with
backoff: the receiver is local, and a batch it cannot take now is better dropped than queued.

``lcdev.telemetry.sdk.setup_telemetry`` uses it when ``LCDEV_OTLP_ENCODING=json``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

__all__ = ["DEFAULT_TIMEOUT_S", "OtlpJsonSpanExporter", "encode_spans"]

DEFAULT_TIMEOUT_S = 5.0
"""Longest one export waits for the receiver (connect + send + answer)."""

_logger = logging.getLogger(__name__)
_HEADERS = {"Content-Type": "application/json"}
_UNSET = StatusCode.UNSET
# Span.flags: bit 8 says whether bit 9 (the parent, or a link's target, is remote) is known.
_LOCAL_PARENT = 0x100
_REMOTE_PARENT = 0x300


class OtlpJsonSpanExporter(SpanExporter):
    """Exports spans as OTLP/JSON to ``endpoint`` (default from the ``OTEL_*`` environment).

    ``endpoint`` is the base URL (``http://127.0.0.1:4318``), the signal path is appended;
    without one, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as is) or
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/traces``) is used, as the OTel exporters do.
    """

    def __init__(self, endpoint: str | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 headers: Mapping[str, str] | None = None) -> None:
        url = _traces_url(endpoint)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OTLP endpoint {url!r} is not an http(s) URL")
        self.url = url
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        self._timeout_s = timeout_s
        self._headers = {**(headers or {}), **_HEADERS}
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()  # one request at a time on the one connection
        self._stopped = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopped:
            return SpanExportResult.FAILURE
        try:
            body = encode_spans(spans)
        except Exception as exc:  # noqa: BLE001 - a span we cannot encode must not crash
            _logger.warning("cannot encode %d spans as OTLP/JSON: %r", len(spans), exc)
            return SpanExportResult.FAILURE
        with self._lock:
            result = self._send(body, len(spans))
            if self._stopped:  # shut down while sending: the connection goes too
                self._disconnect()
            return result

    def shutdown(self) -> None:
        """Stop exporting now; an export in flight fails instead of waiting for its answer."""
        self._stopped = True
        if self._lock.acquire(blocking=False):  # idle: just close the connection
            try:
                self._disconnect()
            finally:
                self._lock.release()
            return
        connection = self._connection  # an export is in flight: make it fail now
        sock = connection.sock if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered here: every export is sent before it returns

    def _send(self, body: bytes, count: int) -> SpanExportResult:
        for attempt in (1, 2):
            reused = self._connection is not None
            try:
                status, reason = self._post(body)
            except (OSError, http.client.HTTPException) as exc:
                self._disconnect()
                # A kept-alive connection the receiver closed while idle fails on first use;
                # one fresh connection tells that apart from a receiver that is down.
                if attempt == 1 and reused and not self._stopped and _stale_connection(exc):
                    continue
                if not self._stopped:
                    _logger.warning("failed to export %d spans to %s: %r", count, self.url,
                                    exc)
                return SpanExportResult.FAILURE
            if 200 <= status < 300:
                return SpanExportResult.SUCCESS
            _logger.warning("failed to export %d spans to %s: %d %s", count, self.url,
                            status, reason)
            return SpanExportResult.FAILURE
        return SpanExportResult.FAILURE

    def _post(self, body: bytes) -> tuple[int, str]:
        connection = self._connection
        if connection is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = self._connection = cls(self._netloc, timeout=self._timeout_s)
        connection.request("POST", self._path, body, self._headers)
        response = connection.getresponse()
        response.read()  # drained, so the connection can carry the next export
        if response.will_close:
            self._disconnect()
        return response.status, response.reason

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """An ``ExportTraceServiceRequest`` in OTLP/JSON: spans grouped by resource, then scope."""
    by_resource: dict[int, tuple[Any, dict[Any, list[dict[str, Any]]]]] = {}
    for span in spans:
        resource = span.resource
        entry = by_resource.get(id(resource))
        if entry is None:
            entry = by_resource[id(resource)] = (resource, {})
        entry[1].setdefault(span.instrumentation_scope, []).append(_span(span))
    resource_spans = []
    for resource, scopes in by_resource.values():
        scope_spans = []
        for scope, encoded in scopes.items():
            group: dict[str, Any] = {"spans": encoded}
            if scope is not None:
                group["scope"] = _scope(scope)
                if scope.schema_url:
                    group["schemaUrl"] = scope.schema_url
            scope_spans.append(group)
        item: dict[str, Any] = {"resource": {"attributes": _attributes(resource.attributes)},
                                "scopeSpans": scope_spans}
        if resource.schema_url:
            item["schemaUrl"] = resource.schema_url
        resource_spans.append(item)
    return orjson.dumps({"resourceSpans": resource_spans})


def _span(span: ReadableSpan) -> dict[str, Any]:
    # Runs for every span on the export thread: the SDK span's own fields are read directly
    # where its public properties copy (events, links) or wrap (attributes) on every access.
    context = span.context
    encoded: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"),
        "spanId": format(context.span_id, "016x"),
        "name": span.name,
        "kind": span.kind._value_ + 1,  # the API counts from INTERNAL = 0, OTLP from 1
        "startTimeUnixNano": str(span.start_time or 0),
        "endTimeUnixNano": str(span.end_time or 0),
    }
    parent = span.parent
    if parent is not None:
        if parent.span_id:
            encoded["parentSpanId"] = format(parent.span_id, "016x")
        encoded["flags"] = _REMOTE_PARENT if parent.is_remote else _LOCAL_PARENT
    else:
        encoded["flags"] = _LOCAL_PARENT
    if context.trace_state:
        encoded["traceState"] = context.trace_state.to_header()
    attributes = span._attributes  # noqa: SLF001 - see above
    if attributes:
        encoded["attributes"] = _attributes(attributes)
        dropped = getattr(attributes, "dropped", 0)
        if dropped:
            encoded["droppedAttributesCount"] = dropped
    if span._events:  # noqa: SLF001
        encoded["events"] = [_event(event) for event in span.events]
        if span.dropped_events:
            encoded["droppedEventsCount"] = span.dropped_events
    if span._links:  # noqa: SLF001
        encoded["links"] = [_link(link) for link in span.links]
        if span.dropped_links:
            encoded["droppedLinksCount"] = span.dropped_links
    status = span.status
    code = status.status_code
    if code is not _UNSET:
        encoded["status"] = ({"code": code._value_, "message": status.description}
                             if status.description else {"code": code._value_})
    return encoded


def _event(event: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = {"timeUnixNano": str(event.timestamp), "name": event.name}
    if event.attributes:
        encoded["attributes"] = _attributes(event.attributes)
        if event.dropped_attributes:
            encoded["droppedAttributesCount"] = event.dropped_attributes
    return encoded


def _link(link: Any) -> dict[str, Any]:
    context = link.context
    encoded: dict[str, Any] = {
        "traceId": format(context.trace_id, "032x"), "spanId": format(context.span_id, "016x"),
        "flags": _REMOTE_PARENT if context.is_remote else _LOCAL_PARENT,
    }
    if context.trace_state:
        encoded["traceState"] = context.trace_state.to_header()
    if link.attributes:
        encoded["attributes"] = _attributes(link.attributes)
        if link.dropped_attributes:
            encoded["droppedAttributesCount"] = link.dropped_attributes
    return encoded


def _scope(scope: Any) -> dict[str, Any]:
    encoded: dict[str, Any] = {"name": scope.name}
    if scope.version:
        encoded["version"] = scope.version
    if scope.attributes:
        encoded["attributes"] = _attributes(scope.attributes)
    return encoded


def _attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not attributes:
        return []
    # The SDK's BoundedAttributes keeps a plain dict: iterating that directly is several
    # times faster than through the Mapping ABC (and this runs for every attribute).
    store = getattr(attributes, "_dict", attributes)
    return [{"key": key, "value": _any_value(value)} for key, value in store.items()]


def _any_value(value: Any) -> dict[str, Any]:
    """An ``AnyValue``; int64 as a decimal string, as the OTLP/JSON encoding asks."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if kind is float:
        return {"doubleValue": _double(value)}
    if isinstance(value, bytes | bytearray):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _attributes(value)}}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return {"arrayValue": {"values": [_any_value(item) for item in value]}}
    # Subclasses of the scalars (str and int enums and the like), then containers.
    if isinstance(value, bool):
        return {"boolValue": bool(value)}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": _double(float(value))}
    if isinstance(value, str):
        return {"stringValue": str(value)}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def _double(value: float) -> float | str:
    """JSON has no NaN or infinities: protobuf's JSON mapping writes them as strings."""
    if value != value:  # noqa: PLR0124 - NaN is the one value not equal to itself
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _stale_connection(exc: BaseException) -> bool:
    return isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError
                      | BrokenPipeError | http.client.CannotSendRequest)


def _traces_url(endpoint: str | None) -> str:
    if endpoint:
        return endpoint.rstrip("/") + "/v1/traces"
    specific = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or "http://localhost:4318"
    return base.rstrip("/") + "/v1/traces"
