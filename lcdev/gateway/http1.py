"""HTTP/1.1 on the wire: request and response heads, body framing, serialisation.

The gateway speaks HTTP/1.1 itself on asyncio streams instead of going through an ASGI server
and an HTTP client library: measured on two cores, that is what keeps the added latency well
under a millisecond (see docs/gateway.md). Parsing is strict: anything malformed becomes an
``HttpError`` carrying the status the client gets (400, 431, 501, 505).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "HOP_BY_HOP",
    "HttpError",
    "RequestHead",
    "ResponseHead",
    "encode_head",
    "encode_raw",
    "iter_chunked",
    "iter_fixed",
    "iter_until_close",
    "parse_request_head",
    "parse_response_head",
]

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "content-length", "expect",
})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")
_READ_SIZE = 65536
Headers = list[tuple[str, str]]


class HttpError(Exception):
    """A request the gateway refuses before routing it; ``status`` is what the client gets."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _bad(detail: str) -> HttpError:
    return HttpError(400, "Bad Request", detail)


def _parse_headers(lines: list[str]) -> Headers:
    # names are lower-cased for lookups; the raw lines are kept for forwarding as they came
    headers: Headers = []
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise _bad(f"malformed header line {line[:80]!r}")
        headers.append((name.lower(), value.strip(" \t")))
    return headers


@dataclass(slots=True)
class RequestHead:
    """A parsed request line and headers (names lower-cased, order kept)."""

    method: str
    target: str  # as sent: raw path and query, forwarded unchanged
    path: str  # percent-decoded path, used for routing
    query: str
    version: str  # "1.1" or "1.0"
    headers: Headers
    raw: list[bytes]  # the header lines as received, aligned with ``headers``
    index: dict[str, str]  # name -> first value

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return self.index.get(name)

    def content_length(self) -> int | None:
        """The declared body length; None for chunked or no body. Ambiguity is an error."""
        lengths = [v for k, v in self.headers if k == "content-length"]
        encoding = self.get("transfer-encoding")
        if encoding is not None:
            if lengths:
                raise _bad("both Content-Length and Transfer-Encoding are set")
            if encoding.lower() != "chunked":
                raise HttpError(501, "Not Implemented",
                                f"transfer encoding '{encoding}' is not supported")
            return None
        if not lengths:
            return 0
        if len(set(lengths)) != 1 or not lengths[0].isdigit():
            raise _bad(f"invalid Content-Length {', '.join(lengths)!r}")
        return int(lengths[0])


@dataclass(slots=True)
class ResponseHead:
    """A parsed status line and headers of an upstream response."""

    version: str
    status: int
    reason: str
    headers: Headers
    raw: list[bytes]  # the header lines as received, aligned with ``headers``
    index: dict[str, str]  # name -> first value

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return self.index.get(name)


def parse_request_head(data: bytes) -> RequestHead:
    """Parse a request head (without its final blank line); raise ``HttpError``."""
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise _bad(f"malformed request line {lines[0][:80]!r}")
    method, target, protocol = parts
    if protocol not in ("HTTP/1.1", "HTTP/1.0"):
        if protocol.startswith("HTTP/"):
            raise HttpError(505, "HTTP Version Not Supported",
                            f"{protocol} is not supported; use HTTP/1.1")
        raise _bad(f"malformed request line {lines[0][:80]!r}")
    if not target.startswith("/"):
        raise _bad(f"the request target must be a path, found {target[:80]!r}")
    raw_path, _, query = target.partition("?")
    path = unquote(raw_path) if "%" in raw_path else raw_path
    if "/." in path and any(seg in (".", "..") for seg in path.split("/")):
        raise _bad(f"the path {path[:80]!r} has '.' or '..' segments")
    headers = _parse_headers(lines[1:])
    return RequestHead(method, target, path, query, protocol[5:], headers,
                       data.split(b"\r\n")[1:], dict(reversed(headers)))


def parse_response_head(data: bytes) -> ResponseHead:
    """Parse an upstream's status line and headers; raise ``ValueError`` when malformed."""
    lines = data.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"malformed status line {lines[0][:80]!r}")
    try:
        headers = _parse_headers(lines[1:])
    except HttpError as exc:
        raise ValueError(exc.detail) from None
    return ResponseHead(version[5:], int(code), reason, headers, data.split(b"\r\n")[1:],
                        dict(reversed(headers)))


def encode_head(first_line: str, headers: Headers) -> bytes:
    """Serialise a start line and headers, ending with the blank line."""
    parts = [first_line, "\r\n"]
    for name, value in headers:
        parts += (name, ": ", value, "\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1")


def encode_raw(first_line: str, headers: Headers, raw: list[bytes], dropped: frozenset[str],
               extra: Headers) -> bytes:
    """A head of the received lines whose names are not ``dropped``, then ``extra``."""
    kept = [line for (name, _), line in zip(headers, raw, strict=True) if name not in dropped]
    added = "".join([f"{name}: {value}\r\n" for name, value in extra])
    return b"".join([first_line.encode("latin-1"), b"\r\n", b"\r\n".join(kept),
                     b"\r\n" if kept else b"", added.encode("latin-1"), b"\r\n"])


async def iter_fixed(reader: asyncio.StreamReader, length: int) -> AsyncIterator[bytes]:
    """Exactly ``length`` bytes, in pieces; ``IncompleteReadError`` when the peer stops."""
    remaining = length
    while remaining:
        data = await reader.read(min(remaining, _READ_SIZE))
        if not data:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(data)
        yield data


async def iter_chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Decode a chunked body (trailers are read and dropped); ``ValueError`` when malformed."""
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].split(b";", 1)[0].strip().decode("latin-1")
        if not _HEX.fullmatch(size_text):
            raise ValueError(f"malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return
        async for data in iter_fixed(reader, size):
            yield data
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")


async def iter_until_close(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Everything until the peer closes (a response without framing)."""
    while data := await reader.read(_READ_SIZE):
        yield data
