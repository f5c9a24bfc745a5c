"""Requests from a client connection, parsed by llhttp (httptools) as the bytes arrive.

One ``httptools.HttpRequestParser`` per connection reads every byte the client sends, so
llhttp alone decides where a head ends, how long a body is (Content-Length or chunked) and
whether the request is valid; pipelined requests queue up in order. The gateway pulls from it:
``next_head`` for the next request, ``body``/``read_all`` for that request's body. Bytes are
read only when the consumer needs more, so an upload streams with back-pressure. A malformed
request becomes an ``HttpError`` with the status the client gets (400, 431, 501, 505).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import unquote

import httptools

from lcdev.gateway.http1 import HttpError, RequestHead, decode_fields

__all__ = ["HEAD_LIMIT", "RequestReader"]

HEAD_LIMIT = 65536
_READ_SIZE = HEAD_LIMIT  # so a head that arrives in one read is within the limit
# llhttp's reason (a part of it) -> what the client is told
_REASONS = [
    ("can't be present with", "both Content-Length and Transfer-Encoding are set"),
    ("Content-Length", "invalid Content-Length"),
    ("Transfer-Encoding", "invalid Transfer-Encoding (in a request, chunked must come last)"),
    ("header", "malformed header line"),
]


_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}


def _bad(detail: str) -> HttpError:
    return HttpError(400, "Bad Request", detail)


def _too_large() -> HttpError:
    return HttpError(431, "Request Header Fields Too Large",
                     f"the request head is larger than {HEAD_LIMIT} bytes")


class _Message:
    __slots__ = ("complete", "head", "pieces")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.pieces: list[bytes] = []
        self.complete = False


class RequestReader:
    """The requests of one client connection, in order, each with its body."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self._parser = httptools.HttpRequestParser(self)
        self._ready: deque[_Message] = deque()  # parsed heads not handed out yet
        self._current: _Message | None = None  # handed out by ``next_head``
        self._parsing: _Message | None = None  # whose body llhttp is reading
        self._url: list[bytes] = []
        self._fields: list[tuple[bytes, bytes]] = []
        self._in_head = False
        self._fed_in_head = 0  # bytes of earlier chunks while the head was incomplete
        self._chunk = b""  # the bytes being fed, to quote a malformed request line
        self._completed_in_chunk = False
        self._quote_from: bytes | None = None  # a chunk the current head starts
        self._error: HttpError | None = None
        self._stopped = False  # after an upgrade or an error: nothing more is parsed

    @property
    def complete(self) -> bool:
        """Whether the current request has arrived whole (body included)."""
        return self._current is not None and self._current.complete

    async def next_head(self) -> RequestHead | None:
        """The next request; None when the client closed the connection.

        Raises ``HttpError`` for a malformed request, after those before it were served.
        """
        self._current = None
        while not self._ready:
            if self._error is not None:
                raise self._error
            if self._stopped:
                return None
            data = await self.reader.read(_READ_SIZE)
            if not data:
                return None
            self._feed(data)
        self._current = self._ready.popleft()
        return self._current.head

    async def body(self) -> AsyncIterator[bytes]:
        """The current request's body as it arrives; ``ValueError`` when it is malformed,
        ``IncompleteReadError`` when the client stops sending."""
        message = self._current
        assert message is not None
        while True:
            if message.pieces:
                pieces, message.pieces = message.pieces, []
                for piece in pieces:
                    yield piece
            if message.complete:
                return
            await self._more()

    async def read_all(self) -> bytes:
        """The whole body of the current request (for small ones)."""
        message = self._current
        assert message is not None
        while not message.complete:
            await self._more()
        pieces, message.pieces = message.pieces, []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def _more(self) -> None:
        if self._error is not None:
            raise ValueError(self._error.detail)
        data = b"" if self._stopped else await self.reader.read(_READ_SIZE)
        if not data:
            raise asyncio.IncompleteReadError(b"", None)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._chunk, self._completed_in_chunk = data, False
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._stopped = True  # what follows is not HTTP; the request is answered 501
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._stop(cause if isinstance(cause, HttpError) else self._refusal(exc))
        except httptools.HttpParserError as exc:
            self._stop(self._refusal(exc))
        else:
            if self._in_head:  # llhttp holds a partial header line: bound the memory
                self._fed_in_head += len(data)
                if self._fed_in_head > HEAD_LIMIT + _READ_SIZE:
                    self._stop(_too_large())

    def _stop(self, error: HttpError) -> None:
        self._error, self._stopped = error, True

    def _refusal(self, exc: httptools.HttpParserError) -> HttpError:
        """The answer to what llhttp refused, naming its reason."""
        reason = str(exc)
        if not self._in_head:
            return _bad(f"malformed body: {reason}")
        if "HTTP version" in reason:
            return HttpError(505, "HTTP Version Not Supported",
                             f"the HTTP version{self._quote(' of')} is not supported;"
                             " use HTTP/1.1")
        detail = next((text for part, text in _REASONS if part in reason), None)
        if detail is None or isinstance(exc, httptools.HttpParserInvalidMethodError):
            detail = f"malformed request line{self._quote()}"
        return _bad(f"{detail} ({reason})")

    def _quote(self, before: str = "") -> str:
        """The request line, when the head began a chunk (else it is not known)."""
        if self._quote_from is None:
            return ""
        line = self._quote_from.lstrip(b"\r\n").split(b"\r\n", 1)[0]
        return f"{before} {line[:80].decode('latin-1')!r}"

    # llhttp's callbacks

    def on_message_begin(self) -> None:
        """A request starts: collect its head."""
        self._in_head = True
        self._url, self._fields, self._fed_in_head = [], [], 0
        # the head begins this chunk unless an earlier request ended in it
        self._quote_from = None if self._completed_in_chunk else self._chunk

    def on_url(self, url: bytes) -> None:
        """(A piece of) the request target."""
        self._url.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header field (trailers of a chunked body come too: they are not kept)."""
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        """The head is complete: check what llhttp leaves to the gateway, queue it."""
        self._in_head = False
        # a head within one chunk is within the limit; one spanning chunks is measured
        if self._fed_in_head and (sum([len(n) + len(v) + 4 for n, v in self._fields])
                                  + sum(map(len, self._url)) > HEAD_LIMIT):
            raise _too_large()
        message = self._parsing = _Message(self._head())
        self._ready.append(message)

    def on_body(self, body: bytes) -> None:
        """A piece of the body being parsed."""
        if body and self._parsing is not None:
            self._parsing.pieces.append(body)

    def on_message_complete(self) -> None:
        """The body being parsed is complete."""
        if self._parsing is not None:
            self._parsing.complete = True
        self._completed_in_chunk = True

    def _head(self) -> RequestHead:
        parser = self._parser
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise HttpError(505, "HTTP Version Not Supported",
                            f"HTTP/{version} is not supported; use HTTP/1.1")
        url = self._url[0] if len(self._url) == 1 else b"".join(self._url)
        fields = self._fields
        self._fields = []  # trailers, if any, go there
        target = url.decode("latin-1")
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            parsed = None
        if parsed is None or parsed.schema or not target.startswith("/"):
            raise _bad(f"the request target must be a path, found {target[:80]!r}")
        raw_path = parsed.path.decode("latin-1")
        path = unquote(raw_path) if "%" in raw_path else raw_path
        if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
            raise _bad(f"the path {path[:80]!r} has '.' or '..' segments")
        headers = decode_fields(fields)
        index = dict(reversed(headers))
        length: int | None = 0
        if "transfer-encoding" in index:  # llhttp checked that chunked comes last
            codings = [c.strip() for k, v in headers if k == "transfer-encoding"
                       for c in v.lower().split(",")]
            if codings != ["chunked"]:
                raise HttpError(501, "Not Implemented", "transfer encoding"
                                f" '{index['transfer-encoding']}' is not supported")
            length = None
        elif (declared := index.get("content-length")) is not None:
            length = int(declared)  # llhttp checked it
        upgrade = parser.should_upgrade()
        method = parser.get_method()
        return RequestHead(_METHODS.get(method) or method.decode("ascii"), target, path,
                           (parsed.query or b"").decode("latin-1"), version, headers,
                           fields, index, parser.should_keep_alive() and not upgrade,
                           upgrade, length)
