"""The gateway's OpenTelemetry spans, as the SDK records them, the service and the log see them.

The gateway runs in this process (``RunningGateway``) and gets its tracer from the global
provider of ``tests/otel.py``, whose in-memory exporter is the ``spans`` fixture.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.gateway.conftest import BrokenUpstream, GatewayFactory, RunningGateway, Upstream, route

CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def traced(gateway: RunningGateway) -> RunningGateway:
    gateway.server.enable_tracing(trace.get_tracer("tests.gateway"))
    return gateway


@pytest.fixture
def broken() -> Iterator[BrokenUpstream]:
    server = BrokenUpstream(b"this is not HTTP\r\n\r\n")
    yield server
    server.close()


@pytest.fixture
def gateway(start_gateway: GatewayFactory, upstream: Upstream, broken: BrokenUpstream,
            spans: InMemorySpanExporter) -> RunningGateway:
    return traced(start_gateway({"timeout_s": 0.3, "routes": [
        route("orders", "/orders", upstream.url),
        route("payments", "/payments", None),
        route("broken", "/broken", broken.url),
    ]}))


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def wait_span(spans: InMemorySpanExporter,
              check: Callable[[ReadableSpan], bool] = lambda span: True) -> ReadableSpan:
    """The span ends just after the answer is sent: wait for it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        found = [span for span in spans.get_finished_spans() if check(span)]
        if found:
            assert len(found) == 1, [span.name for span in found]
            return found[0]
        time.sleep(0.005)
    raise AssertionError(f"no span matched: {[s.name for s in spans.get_finished_spans()]}")


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_request_is_one_server_span_in_the_callers_trace(
    gateway: RunningGateway, client: httpx.Client, upstream: Upstream,
    spans: InMemorySpanExporter,
) -> None:
    response = client.get("/orders/7?q=1", headers={
        "traceparent": CALLER, "tracestate": "vendor=x", "user-agent": "tests/1.0",
        "x-request-id": "span-1"})
    assert response.status_code == 200
    span = wait_span(spans)
    trace_id, span_id = ids(span)
    assert span.name == "GET /orders"
    assert span.kind is SpanKind.SERVER
    assert span.parent is not None
    assert span.parent.is_remote
    assert (trace_id, f"{span.parent.span_id:016x}") == (CALLER_TRACE, CALLER_SPAN)
    assert attributes(span) == {
        "http.request.method": "GET", "url.path": "/orders/7", "url.scheme": "http",
        "http.route": "/orders", "http.response.status_code": 200,
        "lcdev.upstream": "orders", "server.address": "127.0.0.1",
        "server.port": gateway.server.port, "client.address": "127.0.0.1",
        "user_agent.original": "tests/1.0",
    }
    assert span.status.status_code is StatusCode.UNSET
    # the service's own span becomes the gateway span's child
    seen = upstream.seen[-1]
    assert seen["traceparent"] == f"00-{CALLER_TRACE}-{span_id}-01"
    assert seen["tracestate"] == "vendor=x"
    line = gateway.wait_line(lambda line: line["request_id"] == "span-1")
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)


def test_without_a_traceparent_the_gateway_span_starts_the_trace(
    gateway: RunningGateway, client: httpx.Client, upstream: Upstream,
    spans: InMemorySpanExporter,
) -> None:
    client.post("/orders", content=b"{}", headers={"x-request-id": "span-2"})
    span = wait_span(spans)
    trace_id, span_id = ids(span)
    assert span.parent is None
    assert span.name == "POST /orders"
    # sampled; the SDK also sets W3C level 2's "random trace id" flag (0x02)
    context = span.get_span_context()
    assert context is not None
    flags = context.trace_flags
    assert flags.sampled
    assert upstream.seen[-1]["traceparent"] == f"00-{trace_id}-{span_id}-{flags:02x}"
    line = gateway.wait_line(lambda line: line["request_id"] == "span-2")
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)


def test_an_unmatched_request_is_named_by_its_method_and_is_no_server_error(
    client: httpx.Client, spans: InMemorySpanExporter,
) -> None:
    assert client.delete("/nowhere/1").status_code == 404
    span = wait_span(spans)
    assert span.name == "DELETE"
    assert "http.route" not in attributes(span)
    assert attributes(span)["http.response.status_code"] == 404
    assert attributes(span)["lcdev.error"] == "no service is routed at /nowhere/1"
    assert span.status.status_code is StatusCode.UNSET  # 4xx: the caller's fault


def test_the_gateways_own_endpoints_are_their_own_routes(
    client: httpx.Client, spans: InMemorySpanExporter,
) -> None:
    assert client.get("/_lcdev/routes").status_code == 200
    span = wait_span(spans)
    assert span.name == "GET /_lcdev/routes"
    assert attributes(span)["http.route"] == "/_lcdev/routes"


def test_readiness_probes_are_not_traced(
    client: httpx.Client, spans: InMemorySpanExporter,
) -> None:
    assert client.get("/_lcdev/health").status_code == 200
    assert client.get("/_lcdev/routes").status_code == 200
    assert wait_span(spans).name == "GET /_lcdev/routes"  # and it was the only span


@pytest.mark.parametrize(("path", "status", "reason"), [
    ("/payments/1", 503, "service 'payments' is not running"),
    ("/broken/1", 502, "service 'broken' answered badly"),
    ("/orders/slow?s=2", 504, "service 'orders' did not answer in time"),
    ("/orders/status/500", 500, None),  # the service's own 500
])
def test_server_errors_and_upstream_failures_mark_the_span_as_error(
    client: httpx.Client, spans: InMemorySpanExporter, path: str, status: int,
    reason: str | None,
) -> None:
    assert client.get(path).status_code == status
    span = wait_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["http.response.status_code"] == status
    assert attributes(span)["error.type"] == str(status)
    if reason is None:
        assert span.status.description is None
    else:
        assert span.status.description is not None
        assert span.status.description.startswith(reason)
        assert attributes(span)["lcdev.error"] == span.status.description


def test_a_request_that_cannot_be_parsed_still_gets_a_span(
    gateway: RunningGateway, spans: InMemorySpanExporter,
) -> None:
    with socket.create_connection(("127.0.0.1", gateway.server.port), timeout=5) as sock:
        sock.sendall(b"GET /orders/1 HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400 ")
    span = wait_span(spans)
    assert span.name == "HTTP"
    assert attributes(span)["http.request.method"] == "_OTHER"
    assert attributes(span)["http.response.status_code"] == 400


def test_a_caller_that_does_not_sample_gets_no_span_but_keeps_its_trace(
    client: httpx.Client, upstream: Upstream, spans: InMemorySpanExporter,
) -> None:
    client.get("/orders/1", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"})
    match = TRACEPARENT.match(upstream.seen[-1]["traceparent"])
    assert match is not None
    assert match.group(1) == CALLER_TRACE
    assert match.group(2) not in (CALLER_SPAN, "0" * 16)
    assert match.group(3) == "00"
    client.get("/orders/2")  # a sampled one after it: the only span recorded
    assert attributes(wait_span(spans))["url.path"] == "/orders/2"


def test_without_a_tracer_no_span_is_made_and_the_trace_still_propagates(
    gateway: RunningGateway, client: httpx.Client, upstream: Upstream,
    spans: InMemorySpanExporter,
) -> None:
    gateway.server.enable_tracing(None)
    client.get("/orders/1", headers={"traceparent": CALLER, "x-request-id": "untraced"})
    line = gateway.wait_line(lambda line: line["request_id"] == "untraced")
    assert upstream.seen[-1]["traceparent"] == f"00-{CALLER_TRACE}-{line['span_id']}-01"
    assert line["trace_id"] == CALLER_TRACE
    assert spans.get_finished_spans() == ()
