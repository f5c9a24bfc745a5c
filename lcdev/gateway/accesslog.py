"""Structured log lines on stdout, which the supervisor captures: one JSON object per line.

Every line has ``time`` (ISO-8601 UTC), ``level`` and ``msg``, the keys lcdev's log parser
reads; ``kind: access`` lines describe one request each and carry the ids of its trace and of
the gateway's span, so the store links them to the trace; other kinds (``config_reloaded``,
``config_error``, ``started``, ``stopped``, ``error``) describe the gateway itself. Lines
written in one turn of the event loop are flushed together: one write, not one per request.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from lcdev.gateway.exchange import Exchange

__all__ = ["GatewayLog", "access_level"]


_second: list[tuple[int, str]] = [(0, "")]


def access_level(status: int, error: str | None) -> str:
    """``error`` for a 5xx or an exchange without a complete answer (the client or the service
    broke off), ``warn`` for a 4xx, else ``info``."""
    if status >= 500 or (error is not None and status < 400):
        return "error"
    return "warn" if status >= 400 else "info"


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
        status = ex.status
        duration_ms = round((time.perf_counter() - ex.started) * 1000, 3)
        msg = f"{request.method} {request.path} {status} {duration_ms} ms"
        if ex.error is not None:
            msg = f"{msg}: {ex.error}"
        line: dict[str, Any] = {
            "time": _now(), "level": access_level(status, ex.error), "msg": msg,
            "kind": "access", "request_id": ex.request_id,
            "trace_id": ex.trace.trace_id, "span_id": ex.trace.span_id,
            "method": request.method, "path": request.path, "status": status,
            "duration_ms": duration_ms, "upstream": ex.service,
            "upstream_ms": round(ex.upstream_ms, 3) if ex.upstream_ms is not None else None,
            "client": ex.client,
        }
        if ex.error is not None:
            line["error"] = ex.error
        self._write(orjson.dumps(line))

    def event(self, kind: str, level: str = "info", msg: str | None = None,
              **fields: Any) -> None:
        """A line about the gateway itself; ``msg`` defaults to the kind."""
        self._write(orjson.dumps({"time": _now(), "level": level, "msg": msg or kind,
                                  "kind": kind, **fields}))

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
