"""Shared looks of telemetry views: stable service colours, level styles, times, durations.

A service keeps its colour everywhere (logs, trace tables, waterfalls) and from one run to the
next, so the eye learns it: the colour comes from a stable hash of the name, never Python's
per-process ``hash()``. Red and yellow are kept for errors and warnings, so no service is
ever red or yellow.
"""

from __future__ import annotations

import time
import zlib
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "ERROR_STYLE",
    "SHORT_ID",
    "clock",
    "duration",
    "iso_time",
    "level_label",
    "level_style",
    "service_style",
    "short_id",
]

SHORT_ID = 12  # hex characters of a trace id shown in tables; any unique prefix works
ERROR_STYLE = "bold red"

# No red or yellow: those say "error" and "warning". Eight colours every terminal has.
_SERVICE_STYLES = (
    "cyan", "magenta", "green", "blue", "bright_cyan", "bright_magenta", "bright_green",
    "bright_blue",
)
# Info is the common case and stays plain, so warnings and errors are what the eye catches.
_LEVEL_STYLES = {
    "trace": "dim", "debug": "dim", "info": "", "warn": "yellow", "error": ERROR_STYLE,
    "fatal": "bold reverse red",
}


@lru_cache(maxsize=1024)
def service_style(service: str) -> str:
    """The colour of a service: the same for the same name, in every view and every run."""
    return _SERVICE_STYLES[zlib.crc32(service.encode()) % len(_SERVICE_STYLES)]


def level_style(level: str) -> str:
    return _LEVEL_STYLES.get(level, "")


def level_label(level: str) -> str:
    """Upper case and five wide, so messages line up: ``INFO ``, ``WARN ``, ``ERROR``."""
    return level.upper()[:5].ljust(5)


def clock(time_ns: int, with_date: bool = False) -> str:
    """Local wall-clock time with milliseconds, ``14:03:12.345`` (the date first if asked)."""
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return f"{_local_second(seconds, with_date)}.{rest // 1_000_000:03d}"


@lru_cache(maxsize=4096)
def _local_second(seconds: int, with_date: bool) -> str:
    """Log lines come many to a second: format each second once."""
    return time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S",
                         time.localtime(seconds))


def iso_time(time_ns: int) -> str:
    """UTC ISO-8601 with microseconds (``2026-05-01T12:03:12.345678Z``), for JSON output."""
    seconds, rest = divmod(time_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1_000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def duration(ns: int) -> str:
    """A duration a human reads at a glance: ``850 µs``, ``3.05 ms``, ``42.1 ms``, ``1.24 s``."""
    if ns < 0:
        return "-" + duration(-ns)
    if ns < 1_000_000:
        return f"{ns / 1_000:.0f} µs"
    ms = ns / 1_000_000
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1_000:
        return f"{ms:.1f} ms"
    if ms < 60_000:
        return f"{ms / 1_000:.2f} s"
    minutes, seconds = divmod(round(ms / 1_000), 60)
    return f"{minutes}m{seconds:02d}s"


def short_id(trace_id: str) -> str:
    return trace_id[:SHORT_ID]
