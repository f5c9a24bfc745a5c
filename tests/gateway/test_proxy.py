"""Proxying through a real gateway to a real upstream: methods, paths, queries, bodies, streams."""

from __future__ import annotations

import gzip
import hashlib
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import GatewayFactory, RunningGateway, Upstream, route


@pytest.fixture
def gateway(start_gateway: GatewayFactory, upstream: Upstream) -> RunningGateway:
    return start_gateway({"workspace": "shop", "routes": [
        route("orders", "/orders", upstream.url),
        route("keys", "/keys", upstream.url),
    ]})


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_path_query_and_body_are_forwarded_unchanged(
    client: httpx.Client, method: str
) -> None:
    response = client.request(method, "/orders/42/lines?expand=sku&x=%2F1&x=2",
                              content=b'{"qty": 3}' if method != "GET" else None)
    assert response.status_code == 200
    assert response.json() == {
        "method": method, "path": "/orders/42/lines", "query": "expand=sku&x=%2F1&x=2",
        "body": '{"qty": 3}' if method != "GET" else "",
    }
    assert response.headers["x-upstream"] == "echo"


def test_head_gets_headers_and_no_body(client: httpx.Client) -> None:
    response = client.head("/orders/1")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) > 0


@pytest.mark.parametrize("code", [201, 204, 304, 404, 409, 500])
def test_upstream_status_codes_pass_through(client: httpx.Client, code: int) -> None:
    assert client.get(f"/orders/status/{code}").status_code == code


def test_request_headers_pass_and_hop_by_hop_ones_do_not(
    client: httpx.Client, upstream: Upstream
) -> None:
    response = client.get("/orders/h", headers={
        "x-custom": "yes", "connection": "keep-alive, x-hop", "x-hop": "secret",
        "authorization": "Bearer abc", "x-forwarded-for": "10.0.0.9"})
    assert response.status_code == 200
    seen = upstream.seen[-1]
    assert seen["x-custom"] == "yes"
    assert seen["authorization"] == "Bearer abc"
    assert "x-hop" not in seen
    assert seen["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == response.request.headers["host"]
    assert seen["host"] == response.request.headers["host"]  # the caller's Host is kept


def test_compressed_response_reaches_the_client_intact(client: httpx.Client) -> None:
    response = client.get("/orders/gzip", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.json() == {"zipped": True}  # httpx decoded the untouched gzip body


def test_streamed_response_arrives_chunked_and_whole(client: httpx.Client) -> None:
    with client.stream("GET", "/orders/stream?n=20") as response:
        assert response.headers["transfer-encoding"] == "chunked"
        text = b"".join(response.iter_raw()).decode()
    assert text == "".join(f"chunk {i}\n" for i in range(20))


def test_large_response_body_passes_through(client: httpx.Client) -> None:
    response = client.get("/orders/big?size=8388608")
    assert response.status_code == 200
    assert response.content == bytes(range(256)) * (8388608 // 256)


def test_large_request_body_streams_to_the_upstream(client: httpx.Client) -> None:
    body = bytes(range(256)) * 20000  # 5 MB: more than the gateway ever buffers
    response = client.post("/orders/upload", content=body)
    assert response.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                               "chunked": None}


def test_chunked_request_body_is_forwarded_chunked(client: httpx.Client) -> None:
    parts = [b"a" * 70000, b"b" * 10, b"c" * 300000]
    response = client.post("/orders/upload", content=iter(parts))
    data = b"".join(parts)
    assert response.json() == {"length": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                               "chunked": "chunked"}


def _raw(gateway: RunningGateway, data: bytes, until: bytes = b"}") -> bytes:
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while not received.endswith(until):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_keep_alive_serves_several_requests_on_one_connection(gateway: RunningGateway) -> None:
    one = b"GET /orders/a HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /orders/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    received = _raw(gateway, one + one + last, until=b"\x00never")  # read until closed
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.endswith(b'"path":"/orders/b","query":"","body":""}')


def test_http10_client_gets_a_closed_connection(gateway: RunningGateway) -> None:
    received = _raw(gateway, b"GET /orders/old HTTP/1.0\r\n\r\n", until=b"\x00never")
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close" in received.lower()
    assert received.endswith(b'"path":"/orders/old","query":"","body":""}')


def test_expect_100_continue_is_answered_by_the_gateway(gateway: RunningGateway) -> None:
    head = (b"POST /orders/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert b"HTTP/1.1 200 OK" in received
    assert received.endswith(b'"length":5,"sha256":"%s","chunked":null}'
                             % hashlib.sha256(b"hello").hexdigest().encode())


def test_gzip_body_is_not_decoded_by_the_gateway(client: httpx.Client) -> None:
    with client.stream("GET", "/orders/gzip") as response:
        raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw) == b'{"zipped": true}'
