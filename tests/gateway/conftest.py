"""Real parts for the gateway tests: an upstream HTTP server and gateways on free ports.

The upstream is a starlette app on uvicorn in a thread; it records the headers of every
request it gets, so tests can assert what the gateway forwarded. A gateway runs
``GatewayServer`` in its own thread and event loop, logging to a buffer the test can read.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lcdev.gateway.server import GatewayServer

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Upstream:
    """A real upstream service; ``seen`` holds the headers of each request it got."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.jwks: dict[str, Any] = {"keys": []}
        self.openapi: dict[str, dict[str, Any]] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def echo(request: Request) -> Response:
            self.seen.append(dict(request.headers))
            body = await request.body()
            return JSONResponse({
                "method": request.method, "path": request.url.path,
                "query": request.url.query, "body": body.decode(errors="replace"),
            }, headers={"x-upstream": "echo", "access-control-allow-origin": "http://evil"})

        async def slow(request: Request) -> Response:
            await asyncio.sleep(float(request.query_params.get("s", "1")))
            return JSONResponse({"slow": True})

        async def stream(request: Request) -> Response:
            count = int(request.query_params.get("n", "5"))

            async def chunks() -> AsyncIterator[bytes]:
                for i in range(count):
                    yield f"chunk {i}\n".encode()
                    await asyncio.sleep(0.01)
            return StreamingResponse(chunks(), media_type="text/plain")

        async def big(request: Request) -> Response:
            size = int(request.query_params.get("size", str(3 * 2**20)))
            return Response(bytes(range(256)) * (size // 256),
                            media_type="application/octet-stream")

        async def upload(request: Request) -> Response:
            digest, length = hashlib.sha256(), 0
            async for data in request.stream():
                digest.update(data)
                length += len(data)
            return JSONResponse({"length": length, "sha256": digest.hexdigest(),
                                 "chunked": request.headers.get("transfer-encoding")})

        async def gzipped(request: Request) -> Response:
            return Response(gzip.compress(b'{"zipped": true}'), media_type="application/json",
                            headers={"content-encoding": "gzip"})

        async def status(request: Request) -> Response:
            return Response(status_code=int(request.path_params["code"]))

        async def jwks(request: Request) -> Response:
            return JSONResponse(self.jwks)

        async def openapi(request: Request) -> Response:
            name = request.path_params["service"]
            if name not in self.openapi:
                return Response(status_code=404)
            return JSONResponse(self.openapi[name])

        return Starlette(routes=[
            Route("/keys/jwks.json", jwks),
            Route("/{service}/openapi.json", openapi),
            Route("/orders/slow", slow),
            Route("/orders/stream", stream),
            Route("/orders/big", big),
            Route("/orders/upload", upload, methods=["POST", "PUT"]),
            Route("/orders/gzip", gzipped),
            Route("/orders/status/{code:int}", status, methods=METHODS),
            Route("/{path:path}", echo, methods=METHODS),
        ])


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    """The upstream service on a free port, for the whole session."""
    service = Upstream()
    config = uvicorn.Config(service.app(), host="127.0.0.1", port=service.port,
                            log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the upstream server stopped"
        assert time.monotonic() < deadline, "the upstream server did not start"
        time.sleep(0.01)
    yield service
    server.should_exit = True
    thread.join(timeout=10)


class RunningGateway:
    """A ``GatewayServer`` in a thread; ``url`` is where it listens."""

    def __init__(self, config_path: Path, reload_interval_s: float = 0.05) -> None:
        self.config_path = config_path
        self.log = io.BytesIO()
        self.server = GatewayServer(config_path, log_stream=self.log,
                                    reload_interval_s=reload_interval_s)
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self._started.wait(10), "the gateway did not start"
        if self._error is not None:
            raise self._error
        self.url = f"http://127.0.0.1:{self.server.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._started.set()
            self.loop.close()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    def write_config(self, config: dict[str, Any]) -> None:
        self.config_path.write_text(json.dumps(config))

    def lines(self, kind: str = "access") -> list[dict[str, Any]]:
        text = self.log.getvalue().decode()
        found = [json.loads(line) for line in text.splitlines() if line]
        return [line for line in found if line["kind"] == kind]

    def wait_line(self, check: Callable[[dict[str, Any]], bool], kind: str = "access",
                  timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines(kind):
                if check(line):
                    return line
            time.sleep(0.01)
        raise AssertionError(f"no {kind} line matched; lines: {self.lines(kind)}")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(grace_s=2), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


GatewayFactory = Callable[..., RunningGateway]


class BrokenUpstream:
    """A TCP server that answers every request with ``reply`` (b"": closes at once)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.stopped = threading.Event()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[GatewayFactory]:
    """Start gateways with a configuration (dict); all are stopped after the test."""
    running: list[RunningGateway] = []

    def start(config: dict[str, Any], **options: Any) -> RunningGateway:
        path = tmp_path / f"gateway-{len(running)}.json"
        path.write_text(json.dumps(config))
        gateway = RunningGateway(path, **options)
        running.append(gateway)
        return gateway

    yield start
    for gateway in running:
        gateway.stop()


def route(service: str, prefix: str, upstream: str | None, **extra: Any) -> dict[str, Any]:
    """One route of a gateway configuration."""
    return {"service": service, "prefix": prefix, "upstream": upstream, **extra}


def is_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert ``response`` is an ``application/problem+json`` with ``status``; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["request_id"] == response.headers["x-request-id"]
    return body
