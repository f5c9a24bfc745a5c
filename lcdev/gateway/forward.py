"""Forwarding one request to its service and streaming the answer back.

Paths are never rewritten and header lines pass through as received (less hop-by-hop ones).
Bodies stream both ways with back-pressure; small request bodies are read first, so a request
on a pooled connection the service just closed can be sent again on a new one. Where a body
ends is llhttp's decision on both sides (``request_reader``, ``response_reader``); the gateway
only re-frames it (chunked when the length is not known). The response body is passed on as
the service encoded it (gzip stays gzip).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from lcdev.gateway.exchange import Exchange
from lcdev.gateway.http1 import HOP_BY_HOP, ResponseHead, encode_raw
from lcdev.gateway.response_reader import ResponseReader
from lcdev.gateway.upstream import Connection, UpstreamFailure, UpstreamPool

__all__ = ["ClientGone", "forward"]

Headers = list[tuple[str, str]]
_BUFFERED_BODY = 65536
_REPLACED = frozenset({"x-request-id", "traceparent", "tracestate", "x-forwarded-for",
                       "x-forwarded-host", "x-forwarded-proto"})
_REQUEST_DROPPED = HOP_BY_HOP | _REPLACED
# the caller learns the trace of its request (``lcdev trace <id>``) from the gateway's own
# ``traceparent`` (in ``ex.extra_headers``, like ``x-request-id``), whatever the service answered
_RESPONSE_DROPPED = HOP_BY_HOP | {"x-request-id", "traceparent"}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ClientGone(Exception):
    """The client went away or broke its own request's framing mid-exchange."""


class _Deadline:
    """Aborts the upstream connection when the service takes longer than ``timeout_s``.

    A timer handle costs far less per request than ``asyncio.timeout``; a read interrupted
    by it fails, and ``expired`` tells a timeout from a broken connection.
    """

    __slots__ = ("conn", "expired", "handle", "timeout_s")

    def __init__(self, conn: Connection, timeout_s: float) -> None:
        self.conn, self.timeout_s, self.expired = conn, timeout_s, False
        self.handle = conn.loop.call_later(timeout_s, self._expire)

    def _expire(self) -> None:
        self.expired = True
        self.conn.writer.transport.abort()

    def restart(self) -> None:
        """Give the service ``timeout_s`` again (for each piece of a streamed body)."""
        self.handle.cancel()
        self.handle = self.conn.loop.call_later(self.timeout_s, self._expire)

    def check(self, exc: BaseException) -> None:
        """Re-raise a failure caused by the deadline as ``UpstreamFailure('timeout')``."""
        if self.expired:
            raise UpstreamFailure("timeout", f"no answer within {self.timeout_s:g} s") from exc


def _named_in_connection(headers: Headers) -> frozenset[str]:
    names = [v for k, v in headers if k == "connection"]
    return frozenset(n.strip().lower() for v in names for n in v.split(","))


def _upstream_head(ex: Exchange, length: int | None, address: tuple[str, int]) -> bytes:
    request = ex.request
    dropped = _REQUEST_DROPPED
    if request.get("connection") is not None:
        dropped = dropped | _named_in_connection(request.headers)
    forwarded_for = request.get("x-forwarded-for")
    extra = [
        ("x-request-id", ex.request_id),
        ("traceparent", ex.trace.traceparent),
        ("x-forwarded-for", f"{forwarded_for}, {ex.client}" if forwarded_for else ex.client),
        ("x-forwarded-proto", "http"),
    ]
    if ex.trace.tracestate:
        extra.append(("tracestate", ex.trace.tracestate))
    if host := request.get("host"):
        extra.append(("x-forwarded-host", host))
    else:  # HTTP/1.0 callers may omit it; HTTP/1.1 requires it
        extra.append(("host", f"{address[0]}:{address[1]}"))
    if length is None:
        extra.append(("transfer-encoding", "chunked"))
    elif length or request.get("content-length") is not None:
        extra.append(("content-length", str(length)))
    first = f"{request.method} {request.target} HTTP/1.1"
    return encode_raw(first, request.headers, request.raw, dropped, extra)


async def _exchange(conn: Connection, request: bytes, body: bytes | None,
                    ex: Exchange, deadline: _Deadline) -> ResponseReader:
    if body is not None:
        conn.writer.write(request + body if body else request)
    else:  # stream the request body
        conn.writer.write(request)
        chunked = ex.request.length is None
        try:
            async for data in ex.source.body():
                deadline.restart()  # a slow upload is not the service's delay
                conn.writer.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
                await conn.writer.drain()
        except (asyncio.IncompleteReadError, ValueError) as exc:
            raise ClientGone(f"the request body ended early or was malformed: {exc}") from exc
        if chunked:
            conn.writer.write(b"0\r\n\r\n")
        await conn.writer.drain()
    response = conn.response(head_only=ex.request.method == "HEAD")
    await response.read_head()
    return response


async def _send(ex: Exchange, pool: UpstreamPool, address: tuple[str, int],
                timeout_s: float) -> tuple[Connection, ResponseReader, _Deadline]:
    length = ex.request.length
    ex.body_pending = False
    if length != 0 and (ex.request.get("expect") or "").lower() == "100-continue":
        ex.writer.write(_CONTINUE)
    body: bytes | None = b""
    if length is None or length > _BUFFERED_BODY:
        body = None
    elif length:
        try:
            body = await ex.source.read_all()
        except (asyncio.IncompleteReadError, ValueError) as exc:
            raise ClientGone(f"the request body ended early or was malformed: {exc}") from exc
    head = _upstream_head(ex, length, address)
    # a request that cannot be sent twice never goes on a pooled connection that might be
    # closing: a streamed body cannot be replayed, a non-idempotent method must not be
    replayable = body is not None and ex.request.method in _IDEMPOTENT
    for attempt in (1, 2):
        pooled = pool.take(address) if attempt == 1 and body is not None else None
        conn = pooled if pooled is not None else await pool.connect(address)
        deadline = _Deadline(conn, timeout_s)
        try:
            return conn, await _exchange(conn, head, body, ex, deadline), deadline
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            deadline.handle.cancel()
            conn.close()
            deadline.check(exc)
            # a pooled connection the service had just closed: once more on a new one
            if not conn.reused or not replayable or attempt == 2:
                raise UpstreamFailure("unreachable", f"the connection failed: {exc!r}"
                                      ) from None
        except ValueError as exc:
            deadline.handle.cancel()
            conn.close()
            raise UpstreamFailure("invalid", f"it sent an invalid response: {exc}") from None
        except BaseException:
            deadline.handle.cancel()
            conn.close()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _response_framing(ex: Exchange, head: ResponseHead) -> tuple[Headers, int | None]:
    """Framing headers for the client and the body's length (None: no body, -1: chunked to
    the client, -2: until close)."""
    if ex.request.method == "HEAD" or head.status in (204, 304):
        length = head.get("content-length")
        return ([("content-length", length)] if length else []), None
    if head.length is not None:
        return [("content-length", str(head.length))], head.length
    if ex.request.version == "1.0":
        ex.keep_alive = False
        return [], -2
    return [("transfer-encoding", "chunked")], -1


async def forward(ex: Exchange, pool: UpstreamPool, address: tuple[str, int],
                  timeout_s: float, strip_cors: bool) -> None:
    """Proxy ``ex`` to ``address``; raise ``UpstreamFailure`` before any answer was sent."""
    started = time.perf_counter()
    conn, response, deadline = await _send(ex, pool, address, timeout_s)
    head = response.head
    assert head is not None
    framing, length = _response_framing(ex, head)
    body = b""
    streamed = length is not None and not 0 <= length <= _BUFFERED_BODY
    if length is not None and not streamed:  # common: one read, one write
        try:
            body = await response.read_all()
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            conn.close()
            deadline.check(exc)
            raise UpstreamFailure("unreachable", f"the response body was cut short: {exc!r}"
                                  ) from None
        except ValueError as exc:
            conn.close()
            raise UpstreamFailure("invalid", f"it sent an invalid response: {exc}") from None
        finally:
            deadline.handle.cancel()
    ex.upstream_ms = (time.perf_counter() - started) * 1000
    ex.status = head.status
    ex.keep_alive = ex.keep_alive and ex.wants_keep_alive()
    connection = [] if ex.keep_alive else [("connection", "close")]
    if ex.keep_alive and ex.request.version == "1.0":
        connection = [("connection", "keep-alive")]
    dropped = _RESPONSE_DROPPED
    if head.get("connection") is not None:
        dropped = dropped | _named_in_connection(head.headers)
    if strip_cors:
        dropped = dropped | {k for k, _ in head.headers if k.startswith("access-control-")}
    out = encode_raw(f"HTTP/1.1 {head.status} {head.reason}", head.headers, head.raw, dropped,
                     [*ex.extra_headers, *framing, *connection])
    ex.writer.write(out + body if body else out)
    if streamed:
        await _stream(ex, conn, response.body(), length == -1, deadline)
    else:
        deadline.handle.cancel()
        writer = ex.writer
        # drain only when it has something to do: data still buffered (wait for the client)
        # or a connection already lost (raise, as drain does); else it would return at once
        if writer.transport.get_write_buffer_size() or writer.transport.is_closing():
            await writer.drain()
    if response.reusable and not conn.reader.at_eof():
        pool.release(conn)
    else:
        conn.close()


async def _stream(ex: Exchange, conn: Connection, source: AsyncIterator[bytes], chunked: bool,
                  deadline: _Deadline) -> None:
    """Pass a response body on; when it breaks off, both connections are done."""
    deadline.restart()
    try:
        async for data in source:
            deadline.restart()
            ex.writer.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
            await ex.writer.drain()
        if chunked:
            ex.writer.write(b"0\r\n\r\n")
        await ex.writer.drain()
    except (ValueError, asyncio.IncompleteReadError, ConnectionError) as exc:
        conn.close()
        ex.keep_alive = False
        ex.error = ("the service took too long to send the body" if deadline.expired
                    else f"the response was cut short: {exc!r}")
    finally:
        deadline.handle.cancel()
