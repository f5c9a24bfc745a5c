"""HTTP/1.1 framing as llhttp decides it: the readers alone, then through a running gateway."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from lcdev.gateway.http1 import HttpError
from lcdev.gateway.request_reader import RequestReader
from lcdev.gateway.response_reader import ResponseReader
from tests.gateway.conftest import BrokenUpstream, GatewayFactory, RunningGateway, route


def _stream(*parts: bytes, eof: bool = True) -> asyncio.StreamReader:
    """A stream that holds ``parts`` (call it in a running loop)."""
    reader = asyncio.StreamReader()
    for part in parts:
        reader.feed_data(part)
    if eof:
        reader.feed_eof()
    return reader


async def _bodies(*parts: bytes) -> list[tuple[str, str, bytes]]:
    source = RequestReader(_stream(*parts))
    seen = []
    while (head := await source.next_head()) is not None:
        seen.append((head.method, head.target, b"".join([d async for d in source.body()])))
    return seen


def test_pipelined_requests_with_bodies_come_out_in_order() -> None:
    data = (b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n"
            b"0\r\nX-Trailer: dropped\r\n\r\nPUT /b?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"
            b"GET /c HTTP/1.1\r\n\r\n")
    # byte by byte too: llhttp keeps its state between pieces
    for parts in ([data], [data[i:i + 1] for i in range(len(data))]):
        seen = asyncio.run(_bodies(*parts))
        assert seen == [("POST", "/a", b"abcde"), ("PUT", "/b?x=1", b"ok"), ("GET", "/c", b"")]


def test_a_request_head_is_read_with_llhttps_view_of_it() -> None:
    async def read() -> None:
        source = RequestReader(_stream(
            b"GET /caf%C3%A9/x?q=%2F HTTP/1.0\r\nHost: h\r\nX-A:  spaced  \r\nX-A: second\r\n"
            b"Connection: keep-alive\r\n\r\n"))
        head = await source.next_head()
        assert head is not None
        assert (head.method, head.path, head.query, head.version) == (
            "GET", "/café/x", "q=%2F", "1.0")
        assert head.get("x-a") == "spaced"  # the first value
        assert head.raw[1] == (b"X-A", b"spaced  ")  # forwarded as received
        assert head.keep_alive
        assert head.length == 0
        assert source.complete
    asyncio.run(read())


@pytest.mark.parametrize(("data", "status"), [
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\nHost: bare-lf\n\n", 400),
    (b"GET / HTTP/0.9\r\n\r\n", 505),
    (b"GET * HTTP/1.1\r\n\r\n", 400),
])
def test_what_llhttp_refuses_is_an_http_error(data: bytes, status: int) -> None:
    async def read() -> None:
        await RequestReader(_stream(data)).next_head()

    with pytest.raises(HttpError) as refused:
        asyncio.run(read())
    assert refused.value.status == status


def test_a_request_body_that_stops_early_is_an_error() -> None:
    async def read() -> None:
        source = RequestReader(_stream(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"))
        assert await source.next_head() is not None
        assert not source.complete
        with pytest.raises(asyncio.IncompleteReadError):
            await source.read_all()
    asyncio.run(read())


def test_a_response_skips_interim_heads_and_keeps_the_connection() -> None:
    async def read() -> None:
        response = ResponseReader(_stream(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
            eof=False))
        head = await response.read_head()
        assert (head.status, head.reason, head.length) == (201, "Created", 2)
        assert await response.read_all() == b"ok"
        assert response.reusable
    asyncio.run(read())


def test_a_response_without_framing_ends_with_the_connection() -> None:
    async def read() -> None:
        response = ResponseReader(_stream(b"HTTP/1.1 200 OK\r\n\r\nall ", b"of it"))
        assert (await response.read_head()).length is None
        assert await response.read_all() == b"all of it"
        assert not response.reusable
    asyncio.run(read())


def test_a_head_response_has_no_body_whatever_its_length() -> None:
    async def read() -> None:
        response = ResponseReader(_stream(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                                          eof=False), head_only=True)
        assert (await response.read_head()).get("content-length") == "5"
        assert response.complete
        assert response.reusable
    asyncio.run(read())


@pytest.mark.parametrize(("reply", "detail"), [
    (b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n",
     "switched protocols"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz", "transfer coding 'gzip'"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "Content-Length"),
])
def test_responses_the_gateway_cannot_pass_on_are_errors(reply: bytes, detail: str) -> None:
    async def read() -> None:
        await ResponseReader(_stream(reply)).read_head()

    with pytest.raises(ValueError, match=detail):
        asyncio.run(read())


@pytest.fixture
def odd() -> Iterator[dict[str, BrokenUpstream]]:
    servers = {
        "interim": BrokenUpstream(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                                  b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        "unframed": BrokenUpstream(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                                   b"until the end"),
        "switching": BrokenUpstream(b"HTTP/1.1 101 Switching Protocols\r\n"
                                    b"Connection: upgrade\r\nUpgrade: h2c\r\n\r\n"),
    }
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture
def gateway(start_gateway: GatewayFactory, odd: dict[str, BrokenUpstream]) -> RunningGateway:
    return start_gateway({"routes": [route(name, f"/{name}", server.url)
                                     for name, server in odd.items()]})


def _exchange(gateway: RunningGateway, data: bytes) -> list[tuple[bytes, bytes]]:
    """Send ``data``, read until the gateway closes; the answers' status lines and bodies."""
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = []
    for answer in received.split(b"HTTP/1.1 ")[1:]:
        head, _, body = answer.partition(b"\r\n\r\n")
        answers.append((head.split(b"\r\n")[0], body))
    return answers


def test_interim_responses_are_not_passed_on(gateway: RunningGateway) -> None:
    answers = _exchange(gateway, b"GET /interim/x HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answers == [(b"200 OK", b"ok")]


def test_a_response_without_framing_reaches_the_client_chunked(gateway: RunningGateway) -> None:
    [(status, body)] = _exchange(gateway, b"GET /unframed/x HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == b"200 OK"
    assert body == b"d\r\nuntil the end\r\n0\r\n\r\n"


def test_a_protocol_switch_nobody_asked_for_is_a_502(gateway: RunningGateway) -> None:
    [(status, body)] = _exchange(gateway, b"GET /switching/x HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert status == b"502 Bad Gateway"
    assert b"switched protocols" in body


def test_an_upgrade_request_is_refused_and_its_connection_closed(
    gateway: RunningGateway
) -> None:
    answers = _exchange(gateway, b"GET /interim/ws HTTP/1.1\r\nConnection: upgrade\r\n"
                        b"Upgrade: websocket\r\n\r\n\x81\x05hello")
    assert [status for status, _ in answers] == [b"501 Not Implemented"]


def test_a_malformed_request_after_good_ones_is_refused_in_turn(
    gateway: RunningGateway
) -> None:
    answers = _exchange(gateway, b"GET /interim/a HTTP/1.1\r\n\r\nGET /nowhere HTTP/1.1\r\n\r\n"
                        b"GET /interim/b HTTP/1.1\r\nBad Header: x\r\n\r\n")
    assert [status for status, _ in answers] == [b"200 OK", b"404 Not Found",
                                                 b"400 Bad Request"]
    assert b"malformed header line" in answers[-1][1]


def test_a_local_answer_keeps_the_connection_when_the_body_has_arrived(
    gateway: RunningGateway
) -> None:
    answers = _exchange(gateway, b"POST /nowhere HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                        b"GET /interim/a HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert [status for status, _ in answers] == [b"404 Not Found", b"200 OK"]
