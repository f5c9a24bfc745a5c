"""One log record as one scannable line, and as one JSON object.

``14:03:12.345 orders   ERROR payment declined for order 42  trace=4bf92f3577b3``: local time
with milliseconds, the service in its colour and padded so messages line up, the level (info
plain, warnings yellow, errors red), the message, and the short trace id that ``lcdev trace``
accepts. Very long messages are cut so one runaway line cannot flood the terminal
(``records_json`` keeps everything).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

from lcdev.cli.views.style import (
    clock,
    level_label,
    level_style,
    service_style,
    short_id,
)
from lcdev.telemetry.records import LogRecord

__all__ = [
    "MAX_SERVICE_WIDTH",
    "MAX_SHOWN_CHARS",
    "Part",
    "log_line",
    "log_parts",
    "service_width",
    "shown_message",
]

MAX_SHOWN_CHARS = 2_000
MAX_SERVICE_WIDTH = 16
TRUNCATED_KEY = "lcdev.truncated_chars"  # set by the store when it cut a message


def service_width(services: Iterable[str]) -> int:
    """Width of the service column: the longest name, within reason."""
    return min(MAX_SERVICE_WIDTH, max((len(s) for s in services), default=8))


def _fit(name: str, width: int) -> str:
    return name.ljust(width) if len(name) <= width else name[: width - 1] + "…"


def shown_message(record: LogRecord) -> str:
    """The message cut to ``MAX_SHOWN_CHARS``, saying how many characters are not shown
    (counting those the store already cut)."""
    message = record.message
    hidden = int(record.attributes.get(TRUNCATED_KEY, 0) or 0)
    if len(message) > MAX_SHOWN_CHARS:
        hidden += len(message) - MAX_SHOWN_CHARS
        message = message[:MAX_SHOWN_CHARS]
    return f"{message}… [+{hidden} chars]" if hidden else message


Part = tuple[str, str]  # (text, rich style)


def log_parts(record: LogRecord, width: int) -> list[Part]:
    """The record as styled pieces of text (one line, more when the message has several),
    the service padded to ``width``; continuation lines start under the message. Kept free
    of rich objects: ``lcdev logs -f`` renders thousands of these a second."""
    name = _fit(record.service, width)
    stamp = clock(record.time_ns)
    label = level_label(record.level)
    message = shown_message(record)
    if "\n" in message:
        message = message.replace("\n", "\n" + " " * (len(stamp) + len(name) + len(label) + 3))
    parts = [(stamp, "dim"), (" ", ""), (name.rstrip(), service_style(record.service)),
             (" " * (len(name) - len(name.rstrip()) + 1), ""),
             (label, level_style(record.level)), (" ", ""),
             (message, "red" if record.level in ("error", "fatal") else "")]
    if record.trace_id:
        parts.append((f"  trace={short_id(record.trace_id)}", "dim"))
    return parts


def log_line(record: LogRecord, width: int) -> Text:
    """The record as a rich ``Text`` (see :func:`log_parts`)."""
    return Text.assemble(*log_parts(record, width))
