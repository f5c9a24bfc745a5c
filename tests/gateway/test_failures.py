"""What callers get when things go wrong: problem+json naming the cause, never a 500."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import (
    BrokenUpstream,
    GatewayFactory,
    RunningGateway,
    Upstream,
    free_port,
    is_problem,
    route,
)


@pytest.fixture
def broken() -> Iterator[dict[str, BrokenUpstream]]:
    servers = {"garbage": BrokenUpstream(b"SPAM\r\n\r\n"), "closing": BrokenUpstream(b"")}
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def gateway(start_gateway: GatewayFactory, upstream: Upstream,
            broken: dict[str, BrokenUpstream]) -> RunningGateway:
    return start_gateway({"timeout_s": 0.3, "routes": [
        route("orders", "/orders", upstream.url),
        route("payments", "/payments", None),
        route("crashed", "/crashed", f"http://127.0.0.1:{free_port()}"),
        route("garbage", "/garbage", broken["garbage"].url),
        route("closing", "/closing", broken["closing"].url),
    ]})


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def test_an_unknown_path_is_a_404_listing_the_prefixes(client: httpx.Client) -> None:
    body = is_problem(client.get("/nowhere/1"), 404)
    assert body["detail"] == "no service is routed at /nowhere/1"
    assert body["routes"] == ["/payments", "/crashed", "/garbage", "/closing", "/orders"]


@pytest.mark.parametrize("path", ["/payments/charge", "/crashed/x"])
def test_a_service_that_is_not_running_is_a_503(client: httpx.Client, path: str) -> None:
    service = path.split("/")[1]
    body = is_problem(client.post(path, json={"amount": 3}), 503)
    assert body["detail"] == f"service '{service}' is not running"
    assert body["service"] == service


def test_a_service_answering_garbage_is_a_502(client: httpx.Client) -> None:
    body = is_problem(client.get("/garbage/x"), 502)
    assert body["detail"].startswith("service 'garbage' answered badly: it sent an invalid")


def test_a_service_closing_the_connection_is_a_502(client: httpx.Client) -> None:
    body = is_problem(client.get("/closing/x"), 502)
    assert body["detail"].startswith("service 'closing' is unreachable")


def test_a_slow_service_is_a_504_after_the_timeout(client: httpx.Client) -> None:
    started = time.monotonic()
    body = is_problem(client.get("/orders/slow?s=1"), 504)
    assert time.monotonic() - started < 0.9
    assert body["detail"] == "service 'orders' did not answer in time: no answer within 0.3 s"
    assert client.get("/orders/fine").status_code == 200  # and the gateway goes on


def test_the_gateways_own_endpoints(client: httpx.Client, upstream: Upstream) -> None:
    assert client.get("/_lcdev/health").json() == {"status": "ok", "routes": 5,
                                                       "generation": 0}
    routes = client.get("/_lcdev/routes").json()
    assert routes[-1] == {"service": "orders", "prefix": "/orders", "upstream": upstream.url,
                          "auth": "none", "rules": 0}
    assert is_problem(client.post("/_lcdev/health"), 405)["detail"] == (
        "/_lcdev/health answers GET only")
    assert is_problem(client.get("/_lcdev/nope"), 404)["endpoints"] == [
        "/_lcdev/health", "/_lcdev/openapi.json", "/_lcdev/routes"]


def test_protocol_upgrades_are_refused(client: httpx.Client) -> None:
    response = client.get("/orders/ws", headers={"connection": "upgrade",
                                                 "upgrade": "websocket"})
    assert is_problem(response, 501)["service"] == "orders"


def _send_raw(gateway: RunningGateway, data: bytes) -> bytes:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(("request_bytes", "status", "detail"), [
    (b"NOT HTTP\r\n\r\n", 400, "malformed request line 'NOT HTTP'"),
    (b"GET /orders HTTP/2.0\r\n\r\n", 505, "HTTP/2.0 is not supported; use HTTP/1.1"),
    (b"GET http://x/orders HTTP/1.1\r\n\r\n", 400, "the request target must be a path"),
    (b"GET /orders/../admin HTTP/1.1\r\n\r\n", 400, "has '.' or '..' segments"),
    (b"GET /orders/%2e%2e/admin HTTP/1.1\r\n\r\n", 400, "has '.' or '..' segments"),
    (b"GET /orders HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "malformed header line"),
    (b"POST /orders HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "both Content-Length and Transfer-Encoding are set"),
    (b"POST /orders HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
    (b"POST /orders HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
     "transfer encoding 'gzip' is not supported"),
    (b"POST /orders HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
     "transfer encoding 'gzip, chunked' is not supported"),
    (b"BREW /orders HTTP/1.1\r\n\r\n", 400, "malformed request line 'BREW /orders HTTP/1.1'"),
    (b"GET /orders HTTP/1.1\r\n" + b"X-Many: header\r\n" * 5000 + b"\r\n", 431,
     "the request head is larger than 65536 bytes"),
    (b"GET /orders HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431,
     "the request head is larger than 65536 bytes"),
])
def test_bad_requests_get_a_precise_problem_and_a_closed_connection(
    gateway: RunningGateway, request_bytes: bytes, status: int, detail: str
) -> None:
    received = _send_raw(gateway, request_bytes)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"content-type: application/problem+json" in head
    assert b"connection: close" in head
    assert detail.encode() in body


def test_a_malformed_chunked_body_does_not_reach_the_service_whole(
    gateway: RunningGateway
) -> None:
    received = _send_raw(gateway, b"POST /orders/upload HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"the request body ended early or was malformed" in body
