"""Structured log lines on stdout, which the supervisor captures: one JSON object per line.

``kind: access`` lines describe one request each; other kinds (``config_reloaded``,
``config_error``, ``started``, ``stopped``) describe the gateway itself. Lines written in one
turn of the event loop are flushed together, so logging costs one write, not one per request.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from lcdev.gateway.exchange import Exchange

__all__ = ["GatewayLog"]


_second: list[tuple[int, str]] = [(0, "")]


def _now() -> str:
    """RFC 3339 UTC time with milliseconds; the seconds part is formatted once a second."""
    now = time.time()
    whole = int(now)
    cached, text = _second[0]
    if cached != whole:
        text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second[0] = (whole, text)
    return f"{text}.{int((now - whole) * 1000):03d}Z"


class GatewayLog:
    """Writes the gateway's JSON lines to ``stream``."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self._pending: list[bytes] = []
        self._scheduled = False

    def access(self, ex: Exchange) -> None:
        """The access line of a finished exchange."""
        request = ex.request
        line: dict[str, Any] = {
            "time": _now(), "kind": "access", "request_id": ex.request_id,
            "trace_id": ex.trace.trace_id, "method": request.method, "path": request.path,
            "status": ex.status,
            "duration_ms": round((time.perf_counter() - ex.started) * 1000, 3),
            "service": ex.service,
            "upstream_ms": round(ex.upstream_ms, 3) if ex.upstream_ms is not None else None,
            "client": ex.client,
        }
        if ex.error is not None:
            line["error"] = ex.error
        self._write(orjson.dumps(line))

    def event(self, kind: str, **fields: Any) -> None:
        """A line about the gateway itself."""
        self._write(orjson.dumps({"time": _now(), "kind": kind, **fields}))

    def _write(self, line: bytes) -> None:
        self._pending.append(line)
        if self._scheduled:
            return
        try:
            asyncio.get_running_loop().call_soon(self.flush)
            self._scheduled = True
        except RuntimeError:  # no loop: write now
            self.flush()

    def flush(self) -> None:
        """Write what is pending."""
        self._scheduled = False
        if self._pending:
            data = b"\n".join(self._pending) + b"\n"
            self._pending.clear()
            try:
                self.stream.write(data)
                self.stream.flush()
            except (OSError, ValueError):  # stdout closed: the supervisor is gone
                pass
