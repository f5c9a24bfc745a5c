"""The OTLP/HTTP receiver: ``POST /v1/traces|logs|metrics`` → a ``TelemetrySink``.

``build_receiver_app`` is the ASGI app (starlette); ``OtlpReceiver`` serves it with uvicorn
as a task of the caller's event loop (the supervisor's), on a socket it binds itself so that a
taken port is an ``OSError`` from ``start()`` rather than uvicorn exiting the process.

Small bodies are decoded inline: a thread hop costs more than decoding them. Bodies over
``INLINE_DECODE_BYTES`` are decoded in a worker thread so one large export cannot stall the
event loop for long (the loop still gets the GIL back every switch interval).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from lcdev.telemetry.otlp.counters import ReceiverCounters, ReceiverStats
from lcdev.telemetry.otlp.endpoints import MAX_BODY_BYTES, build_receiver_app
from lcdev.telemetry.otlp.forward import Forwarder
from lcdev.telemetry.sink import TelemetrySink

__all__ = [
    "MAX_BODY_BYTES",
    "OtlpReceiver",
    "ReceiverStats",
    "build_receiver_app",
]


class _Server(uvicorn.Server):
    """uvicorn without signal handling: the process that embeds the receiver owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class OtlpReceiver:
    """An OTLP/HTTP receiver on ``host:port`` (0 picks a free port) feeding ``sink``.

    ``port`` is the bound port once ``start()`` returned. A caller that reserved the port
    earlier (to name it in its children's environment) passes the bound socket as ``sock``;
    the receiver then serves on it and closes it on ``stop()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sink: TelemetrySink,
        forwarder: Forwarder | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        sock: socket.socket | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._sock = sock
        self.sink = sink
        self.forwarder = forwarder
        self.max_body_bytes = max_body_bytes
        self._counters = ReceiverCounters()
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind and start serving; raise ``OSError`` saying so when the port is taken."""
        if self._task is not None:
            raise RuntimeError("the OTLP receiver is already running")
        sock, self._sock = self._sock, None  # a socket is served once, then closed
        if sock is None:
            sock = _bind(self.host, self.port)
        sock.setblocking(False)
        self.host, self.port = sock.getsockname()[:2]
        app = build_receiver_app(
            self.sink, self.forwarder, counters=self._counters,
            max_body_bytes=self.max_body_bytes,
        )
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", log_config=None,
            timeout_graceful_shutdown=2,
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]), name="otlp-receiver")
        self._server, self._task = server, task
        while not server.started:
            if task.done():
                self._server = self._task = None
                sock.close()
                task.result()  # re-raises why it stopped
                raise OSError(f"OTLP receiver on {self.host}:{self.port} stopped while starting")
            await asyncio.sleep(0.001)

    async def stop(self) -> None:
        """Stop serving (in-flight requests get up to two seconds) and release the port."""
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await task

    def stats(self) -> ReceiverStats:
        return self._counters.snapshot()

    @property
    def endpoint(self) -> str:
        """The base URL senders use as ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise OSError(
            exc.errno, f"OTLP receiver cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    sock.setblocking(False)
    return sock
