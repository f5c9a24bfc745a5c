"""Request ids, W3C trace context and the access log, as the upstream and the log see them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from lcdev.gateway.accesslog import access_level
from tests.gateway.conftest import GatewayFactory, RunningGateway, Upstream, route

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def gateway(start_gateway: GatewayFactory, upstream: Upstream) -> RunningGateway:
    return start_gateway({"routes": [route("orders", "/orders", upstream.url)]})


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def test_a_request_id_is_created_and_given_to_the_service(
    client: httpx.Client, upstream: Upstream
) -> None:
    response = client.get("/orders/1")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert upstream.seen[-1]["x-request-id"] == request_id
    assert client.get("/orders/1").headers["x-request-id"] != request_id


def test_the_callers_request_id_is_kept(client: httpx.Client, upstream: Upstream) -> None:
    response = client.get("/orders/1", headers={"x-request-id": "req-abc-1"})
    assert response.headers["x-request-id"] == "req-abc-1"
    assert upstream.seen[-1]["x-request-id"] == "req-abc-1"
    assert client.get("/nowhere", headers={"x-request-id": "req-2"}).headers[
        "x-request-id"] == "req-2"  # on the gateway's own answers too


def test_a_trace_is_started_when_the_caller_has_none(
    client: httpx.Client, upstream: Upstream
) -> None:
    client.get("/orders/1")
    match = TRACEPARENT.match(upstream.seen[-1]["traceparent"])
    assert match is not None
    trace_id, span_id, flags = match.groups()
    assert trace_id != "0" * 32
    assert span_id != "0" * 16
    assert flags == "01"
    assert "tracestate" not in upstream.seen[-1]


def test_the_callers_trace_continues_with_the_gateway_as_parent(
    client: httpx.Client, upstream: Upstream
) -> None:
    client.get("/orders/1", headers={"traceparent": CALLER, "tracestate": "vendor=x,other=y"})
    seen = upstream.seen[-1]
    match = TRACEPARENT.match(seen["traceparent"])
    assert match is not None
    assert match.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert match.group(2) != "00f067aa0ba902b7"  # a new parent span: the gateway's
    assert match.group(3) == "01"
    assert seen["tracestate"] == "vendor=x,other=y"


@pytest.mark.parametrize("bad", [
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
    "garbage",
])
def test_an_invalid_traceparent_starts_a_new_trace(
    client: httpx.Client, upstream: Upstream, bad: str
) -> None:
    client.get("/orders/1", headers={"traceparent": bad, "tracestate": "vendor=x"})
    seen = upstream.seen[-1]
    match = TRACEPARENT.match(seen["traceparent"])
    assert match is not None
    assert match.group(1) not in bad.lower()
    assert "tracestate" not in seen  # dropped with the invalid traceparent


def test_one_access_line_per_request(gateway: RunningGateway, client: httpx.Client,
                                     upstream: Upstream) -> None:
    response = client.post("/orders/9?secret=1", content=b"x",
                           headers={"traceparent": CALLER, "x-request-id": "log-1"})
    line = gateway.wait_line(lambda line: line["request_id"] == "log-1")
    assert set(line) == {"time", "level", "msg", "kind", "request_id", "trace_id", "span_id",
                         "method", "path", "status", "duration_ms", "upstream", "upstream_ms",
                         "client"}
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    # the span id is the gateway's: the parent of what the service sees
    forwarded = TRACEPARENT.match(upstream.seen[-1]["traceparent"])
    assert forwarded is not None
    assert line["span_id"] == forwarded.group(2)
    assert (line["method"], line["path"], line["status"]) == ("POST", "/orders/9", 200)
    assert line["upstream"] == "orders"
    assert line["client"] == "127.0.0.1"
    assert line["level"] == "info"
    assert line["msg"] == f"POST /orders/9 200 {line['duration_ms']} ms"
    assert 0 < line["upstream_ms"] <= line["duration_ms"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert response.status_code == 200


def test_gateway_answers_are_logged_with_their_cause(
    gateway: RunningGateway, client: httpx.Client
) -> None:
    client.get("/nowhere", headers={"x-request-id": "log-404"})
    line = gateway.wait_line(lambda line: line["request_id"] == "log-404")
    assert (line["status"], line["upstream"], line["upstream_ms"]) == (404, None, None)
    assert line["error"] == "no service is routed at /nowhere"
    assert line["level"] == "warn"
    assert line["msg"].startswith("GET /nowhere 404 ")
    assert line["msg"].endswith(" ms: no service is routed at /nowhere")


@pytest.mark.parametrize(("status", "error", "level"), [
    (200, None, "info"), (304, None, "info"), (404, "no route", "warn"),
    (429, "limited", "warn"), (500, None, "error"), (503, "not running", "error"),
    (200, "the response was cut short", "error"),  # broke off after the head
    (0, "the client went away", "error"),  # no answer at all
])
def test_access_levels(status: int, error: str | None, level: str) -> None:
    assert access_level(status, error) == level


def test_lines_about_the_gateway_itself_have_a_level_and_a_message(
    gateway: RunningGateway,
) -> None:
    started = gateway.wait_line(lambda line: True, kind="started")
    assert started["level"] == "info"
    assert started["msg"] == f"listening on 127.0.0.1:{started['port']}"


def test_the_response_names_the_trace_it_belongs_to(
    client: httpx.Client, upstream: Upstream
) -> None:
    """A caller (``lcdev test`` reporting a failure) learns the trace id from the answer."""
    response = client.get("/orders/1", headers={"traceparent": CALLER})
    match = TRACEPARENT.match(response.headers["traceparent"])
    assert match is not None
    assert match.group(1) == CALLER.split("-")[1]
    assert response.headers["traceparent"] == upstream.seen[-1]["traceparent"]


def test_the_gateways_own_answers_name_the_trace_too(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    """A refusal or a failure the gateway answers itself (401, 404, 405, 429, 503) names the
    caller's trace like a forwarded answer, so ``lcdev test`` can point at it."""
    gateway = start_gateway({"routes": [
        route("stock", "/stock", upstream.url,
              policy={"auth": {"type": "api_key", "key_sha256": ["00" * 32]}}),
        route("orders", "/orders", upstream.url,
              policy={"rate_limit": {"requests": 1, "per_s": 60}}),
        route("billing", "/billing", None),
    ]})
    requests = [("GET", "/stock/1", 401), ("GET", "/nowhere", 404),
                ("POST", "/_lcdev/health", 405), ("GET", "/orders/1", 200),
                ("GET", "/orders/1", 429), ("GET", "/billing/1", 503)]
    trace_id = CALLER.split("-")[1]
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for method, path, status in requests:
            response = client.request(method, path, headers={"traceparent": CALLER})
            assert response.status_code == status, path
            match = TRACEPARENT.match(response.headers.get("traceparent", ""))
            assert match is not None, f"{method} {path} {status} names no trace"
            assert match.group(1) == trace_id
            assert match.group(2) != CALLER.split("-")[2]  # the gateway's span, not the caller's
            line = gateway.wait_line(lambda line, p=path, s=status: (line["path"], line["status"])
                                     == (p, s))
            assert match.group(2) == line["span_id"]
