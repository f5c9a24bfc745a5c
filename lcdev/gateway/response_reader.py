"""A service's response, parsed by llhttp (httptools) as the bytes arrive.

One ``httptools.HttpResponseParser`` per connection: llhttp decides whether the response is
valid and where its body ends (Content-Length, chunked, or the connection's end). Interim
``1xx`` responses (100 Continue, 103 Early Hints) are skipped. A response the gateway cannot
pass on (malformed, a protocol switch nobody asked for, a transfer coding other than chunked)
raises ``ValueError``; a connection that ends before the response does raises
``IncompleteReadError``. ``reusable`` tells whether the connection may serve another request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httptools

from lcdev.gateway.http1 import ResponseHead, decode_fields

__all__ = ["ResponseReader"]

_READ_SIZE = 65536
_HEAD_LIMIT = 65536


class ResponseReader:
    """The responses on ``reader``'s connection, one per request (``begin`` each next one).

    ``head_only``: the request was HEAD, so the response has no body whatever its headers say
    (llhttp cannot be told, so the gateway stops reading after the head, and the next response
    gets a new parser).
    """

    __slots__ = ("_at_end", "_extra", "_fed", "_fields", "_parser", "_pieces", "_reason",
                 "_until_close", "complete", "head", "head_only", "reader")

    def __init__(self, reader: asyncio.StreamReader, *, head_only: bool = False) -> None:
        self.reader = reader
        self._parser = httptools.HttpResponseParser(self)
        self._at_end = True  # llhttp is between messages
        self.begin(head_only=head_only)

    def begin(self, *, head_only: bool = False) -> None:
        """Get ready for the response to the next request sent on the connection."""
        if not self._at_end:
            self._parser = httptools.HttpResponseParser(self)
        self._at_end = False
        self.head_only = head_only
        self.head: ResponseHead | None = None
        self.complete = False
        self._until_close = False  # no framing: the body ends with the connection
        self._extra = False  # bytes after the response: the connection is not reused
        self._pieces: list[bytes] = []
        self._reason = b""
        self._fields: list[tuple[bytes, bytes]] = []
        self._fed = 0

    @property
    def reusable(self) -> bool:
        """Whether the connection may carry another request after this response."""
        return (self.head is not None and self.head.keep_alive and self.complete
                and not self._extra)

    async def read_head(self) -> ResponseHead:
        """The final response's status line and headers."""
        while self.head is None:
            data = await self.reader.read(_READ_SIZE)
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            self._fed += len(data)
            if self._fed > _HEAD_LIMIT + _READ_SIZE:
                raise ValueError(f"its head is larger than {_HEAD_LIMIT} bytes")
            self._feed(data)
        return self.head

    async def body(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        while True:
            if self._pieces:
                pieces, self._pieces = self._pieces, []
                for piece in pieces:
                    yield piece
            if self.complete:
                return
            await self._more()

    async def read_all(self) -> bytes:
        """The whole body (for small ones)."""
        while not self.complete:
            await self._more()
        pieces, self._pieces = self._pieces, []
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    async def _more(self) -> None:
        data = await self.reader.read(_READ_SIZE)
        if data:
            self._feed(data)
        elif self._until_close:
            self.complete = True
        else:
            raise asyncio.IncompleteReadError(b"", None)

    def _feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise ValueError("it switched protocols, which nobody asked for") from None
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, ValueError):
                raise exc.__context__ from None
            raise ValueError(str(exc)) from None
        except httptools.HttpParserError as exc:
            if not self.complete:
                raise ValueError(str(exc)) from None
            self._extra = True  # garbage after a complete response

    # llhttp's callbacks

    def on_status(self, reason: bytes) -> None:
        """(A piece of) the reason phrase."""
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header line (trailers after a chunked body are dropped)."""
        if self.head is None:
            self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        """A head is complete: keep it unless it is an interim (1xx) one."""
        parser = self._parser
        status = parser.get_status_code()
        fields, reason = self._fields, self._reason
        self._fields, self._reason = [], b""
        if status == 101:
            raise ValueError("it switched protocols, which nobody asked for")
        if self.head is not None:  # a second response: more than was asked for
            self._extra = True
            return
        if status < 200:
            return
        headers = decode_fields(fields)
        index = dict(reversed(headers))
        length: int | None = None
        if (coding := index.get("transfer-encoding")) is not None:
            if coding.strip().lower() != "chunked":
                raise ValueError(f"its transfer coding '{coding}' is not supported")
        elif (declared := index.get("content-length")) is not None:
            length = int(declared)  # llhttp checked it
        elif status not in (204, 304) and not self.head_only:
            self._until_close = True
        self.head = ResponseHead(parser.get_http_version(), status, reason.decode("latin-1"),
                                 headers, fields, index, parser.should_keep_alive(), length)
        if self.head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        """A piece of the body (after a HEAD's head: more than was asked for)."""
        if self.complete or self.head is None:
            self._extra = True
        elif body:
            self._pieces.append(body)

    def on_message_complete(self) -> None:
        """The response is complete (interim ones are not)."""
        if self.head is not None:
            self.complete = self._at_end = True
