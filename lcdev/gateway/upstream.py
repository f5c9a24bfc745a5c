"""Connections to the services: a keep-alive pool per upstream address.

Failures are classified the way the gateway reports them: ``refused`` (nothing listens: the
service is not running, 503), ``timeout`` (504), ``unreachable`` / ``invalid`` (502). Idle
connections are dropped after ``idle_ttl_s``, shorter than uvicorn's 5 s keep-alive, so a
pooled connection is rarely one the service is closing at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from lcdev.gateway.response_reader import ResponseReader

__all__ = ["Connection", "UpstreamFailure", "UpstreamPool"]

FailureKind = Literal["refused", "unreachable", "timeout", "invalid"]


class UpstreamFailure(Exception):
    """A service could not be reached or answered badly."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.detail = kind, detail


@dataclass(slots=True)
class Connection:
    """An open connection to an upstream."""

    address: tuple[str, int]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    loop: asyncio.AbstractEventLoop  # for the deadline timers (cheaper than looking it up)
    reused: bool = False
    idle_since: float = 0.0
    responses: ResponseReader | None = None  # llhttp's parser, kept for the next exchange

    def response(self, *, head_only: bool) -> ResponseReader:
        """The reader of the response to the request just sent."""
        if self.responses is None:
            self.responses = ResponseReader(self.reader, head_only=head_only)
        else:
            self.responses.begin(head_only=head_only)
        return self.responses

    def close(self) -> None:
        """Close it (it is not put back in the pool)."""
        self.writer.close()


class UpstreamPool:
    """Idle keep-alive connections, per upstream address."""

    def __init__(self, connect_timeout_s: float = 2.0, idle_ttl_s: float = 4.0,
                 max_idle_per_address: int = 256) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.idle_ttl_s = idle_ttl_s
        self.max_idle = max_idle_per_address
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self.closed = False

    def take(self, address: tuple[str, int]) -> Connection | None:
        """A pooled connection to ``address`` that is still usable, or None.

        Not a coroutine: the common case (a pooled connection) costs no await.
        """
        idle = self._idle.get(address)
        if idle:
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if (conn.reader.at_eof() or conn.writer.is_closing()
                        or now - conn.idle_since > self.idle_ttl_s):
                    conn.close()
                    continue
                conn.reused = True
                return conn
        return None

    async def acquire(self, address: tuple[str, int], *, fresh: bool = False) -> Connection:
        """A pooled connection to ``address`` (unless ``fresh``), else a new one."""
        if not fresh and (conn := self.take(address)) is not None:
            return conn
        return await self.connect(address)

    async def connect(self, address: tuple[str, int]) -> Connection:
        """A new connection to ``address``."""
        host, port = address
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(host, port, limit=2**16)
        except ConnectionRefusedError:
            raise UpstreamFailure("refused", f"nothing listens on {host}:{port}") from None
        except TimeoutError:
            raise UpstreamFailure("timeout", f"{host}:{port} did not accept a connection"
                                  f" within {self.connect_timeout_s:g} s") from None
        except OSError as exc:
            raise UpstreamFailure("unreachable", f"{host}:{port}: {exc}") from None
        return Connection(address, reader, writer, asyncio.get_running_loop())

    def release(self, conn: Connection) -> None:
        """Give back a connection whose exchange is complete and that may be reused."""
        idle = self._idle.setdefault(conn.address, [])
        if self.closed or len(idle) >= self.max_idle or conn.writer.is_closing():
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def close(self) -> None:
        """Close every idle connection; later releases close theirs."""
        self.closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
