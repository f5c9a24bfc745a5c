"""HTTP/1.1 messages as the gateway sees them: parsed heads, refusals, serialisation.

Parsing and body framing are llhttp's (through httptools, see ``request_reader`` and
``response_reader``); this module holds what they produce and the few bytes the gateway writes
itself. Header names are lower-cased for lookups; the received lines are kept to be forwarded
as they came.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "HOP_BY_HOP",
    "Headers",
    "HttpError",
    "RequestHead",
    "ResponseHead",
    "decode_fields",
    "encode_head",
    "encode_raw",
]

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
    "upgrade", "content-length", "expect",
})
Headers = list[tuple[str, str]]


class HttpError(Exception):
    """A request the gateway refuses before routing it; ``status`` is what the client gets."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass(slots=True)
class RequestHead:
    """A parsed request line and headers (names lower-cased, order kept)."""

    method: str
    target: str  # as sent: raw path and query, forwarded unchanged
    path: str  # percent-decoded path, used for routing
    query: str
    version: str  # "1.1" or "1.0"
    headers: Headers
    raw: list[tuple[bytes, bytes]]  # the header fields as received, aligned with ``headers``
    index: dict[str, str]  # name -> first value
    keep_alive: bool = False  # what the client asked for (llhttp's reading of it)
    upgrade: bool = False  # a protocol upgrade (WebSocket) or CONNECT
    length: int | None = 0  # body length; None: chunked

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return self.index.get(name)


@dataclass(slots=True)
class ResponseHead:
    """A parsed status line and headers of an upstream response."""

    version: str
    status: int
    reason: str
    headers: Headers = field(default_factory=list)
    raw: list[tuple[bytes, bytes]] = field(default_factory=list)  # as received, aligned
    index: dict[str, str] = field(default_factory=dict)  # name -> first value
    keep_alive: bool = False  # whether the service lets the connection be reused
    length: int | None = None  # declared Content-Length; None: chunked or until close

    def get(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        return self.index.get(name)


_NAMES: dict[bytes, str] = {}  # header names as received -> lower case (bounded below)


def decode_fields(fields: list[tuple[bytes, bytes]]) -> Headers:
    """Header fields as llhttp gives them -> (lower-case name, value without trailing space).

    Names repeat from request to request, so their lower-case form is remembered.
    """
    names = _NAMES
    headers = [(names.get(name) or _name(name), value.decode("latin-1").rstrip(" \t"))
               for name, value in fields]
    return headers


def _name(name: bytes) -> str:
    text = name.decode("latin-1").lower()
    if len(_NAMES) < 512:  # a client sending ever new names does not grow it further
        _NAMES[name] = text
    return text


def encode_head(first_line: str, headers: Headers) -> bytes:
    """Serialise a start line and headers, ending with the blank line."""
    parts = [first_line, "\r\n"]
    for name, value in headers:
        parts += (name, ": ", value, "\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1")


def encode_raw(first_line: str, headers: Headers, raw: list[tuple[bytes, bytes]],
               dropped: frozenset[str], extra: Headers) -> bytes:
    """A head of the received fields whose names are not ``dropped``, then ``extra``.

    Built as one list of lines joined once: this runs twice per proxied request.
    """
    lines = [first_line.encode("latin-1")]
    lines += [b": ".join(pair) for (name, _), pair in zip(headers, raw, strict=True)
              if name not in dropped]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in extra]
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
