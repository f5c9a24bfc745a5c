"""JSON log lines: one object per line on stdout, linked to the trace that was current.

``{"time": "2026-05-01T10:00:00.123456Z", "level": "warn", "msg": "...", "service": "orders",
"logger": "lcdev.runtime.events", "trace_id": "…", "span_id": "…", ...fields}`` — the keys the
supervisor's line parser lifts into a stored ``LogRecord`` (docs/telemetry-internals.md);
``trace_id``/``span_id`` are there only while a span is current. Extra keys come from
``logger.info(msg, extra={"fields": {...}})``; a traceback is appended to ``msg``.

:func:`install_json_logging` routes every logger of the process (lcdev's, uvicorn's, aiokafka's,
asyncio's) through one such handler; lcdev's own loggers log from ``info``, libraries from
``warning``.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, TextIO

import orjson

from lcdev.telemetry.sdk import current_ids

__all__ = ["JsonLogFormatter", "install_json_logging", "level_name"]

_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
           logging.ERROR: "error", logging.CRITICAL: "fatal"}
_CORE = ("time", "level", "msg", "service", "logger", "trace_id", "span_id")
_CALLER_INPUT_LOGGERS = ("opentelemetry.trace.span", "opentelemetry.trace.propagation.tracecontext")
"""Loggers of the W3C propagator that warn about a caller's malformed ``tracestate`` or
oversized ``traceparent`` (which is then ignored, as the spec says): the service's log is no
place for a line per such request."""


def level_name(levelno: int) -> str:
    """lcdev's level names (``trace|debug|info|warn|error|fatal``) for a logging level."""
    if levelno in _LEVELS:
        return _LEVELS[levelno]
    if levelno < logging.DEBUG:
        return "trace"
    for bound in (logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
        if levelno < bound:
            return _LEVELS[bound - 10]
    return "fatal"


class JsonLogFormatter(logging.Formatter):
    """Formats a record as one JSON object (see the module docstring)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        elif record.stack_info:
            message = f"{message}\n{record.stack_info}"
        time = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": level_name(record.levelno),
            "msg": message,
            "service": self.service,
            "logger": record.name,
        }
        trace_id, span_id = current_ids()
        if trace_id:
            line["trace_id"], line["span_id"] = trace_id, span_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((k, v) for k, v in fields.items() if k not in _CORE)
        return orjson.dumps(line, default=str).decode()


def install_json_logging(service: str, stream: TextIO | None = None) -> logging.Handler:
    """Make every log record of the process a JSON line on ``stream`` (default stdout);
    returns the handler. Replaces the root logger's handlers (a forked child may have
    inherited some)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonLogFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("lcdev").setLevel(logging.INFO)
    logging.captureWarnings(True)  # Python warnings become records too, not stderr text
    for name in _CALLER_INPUT_LOGGERS:  # a client's malformed trace header, once per request
        logging.getLogger(name).setLevel(logging.ERROR)
    return handler
