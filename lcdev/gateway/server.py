"""The gateway's HTTP/1.1 server: connections, keep-alive, reloads and a graceful stop.

``GatewayServer`` owns the listening socket, the ``Gateway`` pipeline and the configuration
watcher. It runs in any asyncio loop: ``python -m lcdev.gateway`` runs it as a process; tests
run it in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from lcdev.gateway.accesslog import GatewayLog
from lcdev.gateway.gateway import Gateway
from lcdev.gateway.http1 import HttpError
from lcdev.gateway.reload import ConfigWatcher
from lcdev.gateway.request_reader import RequestReader
from lcdev.gateway.schema import GatewayConfig, load_config

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

__all__ = ["GatewayServer"]

_KEEP_ALIVE_S = 15.0
_BUFFER_LIMIT = 65536  # asyncio pauses reading from a client when twice this is unread


class GatewayServer:
    """Serves the gateway on ``host:port`` (0: a free port, see ``port`` once started)."""

    def __init__(self, config_path: Path, host: str = "127.0.0.1", port: int = 0, *,
                 log_stream: BinaryIO | None = None, reload_interval_s: float = 0.25) -> None:
        self.config_path = config_path
        self.host, self.port = host, port
        self.log = GatewayLog(log_stream if log_stream is not None else sys.stdout.buffer)
        self.reload_interval_s = reload_interval_s
        self._server: asyncio.Server | None = None
        self._watch: asyncio.Task[None] | None = None
        self._idle: dict[asyncio.StreamWriter, float] = {}  # waiting for a request since
        self._sweep: asyncio.Task[None] | None = None
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.gateway: Gateway | None = None
        self.watcher: ConfigWatcher | None = None

    async def start(self) -> None:
        """Load the configuration (errors raise) and start listening."""
        config = load_config(self.config_path)
        self.gateway = Gateway(config, self.log)
        self.watcher = ConfigWatcher(self.config_path, self._apply, self._config_error,
                                     self.reload_interval_s)
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=_BUFFER_LIMIT, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._watch = asyncio.create_task(self.watcher.run())
        self._sweep = asyncio.create_task(self._close_idle())
        self.log.event("started", msg=f"listening on {self.host}:{self.port}",
                       host=self.host, port=self.port,
                       routes=len(self.gateway.table.routes))

    def enable_tracing(self, tracer: Tracer | None) -> None:
        """Give every request from now on a span from ``tracer`` (None: no spans).

        Call it in the server's event loop once it started. Imports the OTel API only now,
        so a gateway without telemetry never loads it.
        """
        assert self.gateway is not None, "start the server first"
        if tracer is None:
            self.gateway.spans = None
            return
        from lcdev.gateway.spans import RequestSpans

        self.gateway.spans = RequestSpans(tracer, self.host, self.port)

    def reload(self) -> None:
        """Re-read the configuration now (SIGHUP)."""
        if self.watcher is not None:
            self.watcher.check(force=True)

    def _apply(self, config: GatewayConfig) -> None:
        assert self.gateway is not None
        self.gateway.apply(config)
        self.log.event("config_reloaded", msg="configuration reloaded", routes=len(config.routes),
                       running=sorted(r.service for r in config.routes if r.upstream))

    def _config_error(self, message: str) -> None:
        self.log.event("config_error", "error", f"configuration not applied: {message}",
                       error=message)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (up to ``grace_s``), close."""
        self._stopping = True
        for task in (self._watch, self._sweep):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            self._server.close()
        for writer in list(self._idle):
            writer.close()
        deadline = time.monotonic() + grace_s
        while self._busy and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.gateway is not None:
            self.gateway.pool.close()
        if self._server is not None:
            await self._server.wait_closed()
        await asyncio.sleep(0.01)  # let the closed transports finish closing
        self.log.event("stopped", msg="stopped")
        self.log.flush()

    async def _close_idle(self) -> None:
        """Close keep-alive connections idle for too long (cheaper than a timeout per read)."""
        while True:
            await asyncio.sleep(1.0)
            limit = time.monotonic() - _KEEP_ALIVE_S
            for writer in [w for w, since in self._idle.items() if since < limit]:
                writer.close()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        assert self.gateway is not None
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if peer else "unknown"
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        source = RequestReader(reader)
        try:
            while not self._stopping:
                self._idle[writer] = time.monotonic()
                try:
                    request = await source.next_head()
                except HttpError as exc:
                    self._busy += 1
                    try:
                        await self.gateway.reject(source, writer, client, exc)
                    finally:
                        self._busy -= 1
                    break
                finally:
                    self._idle.pop(writer, None)
                if request is None:
                    break
                self._busy += 1
                try:
                    if not await self.gateway.handle(request, source, writer, client):
                        break
                finally:
                    self._busy -= 1
        except ConnectionError:
            pass
        finally:
            writer.close()
