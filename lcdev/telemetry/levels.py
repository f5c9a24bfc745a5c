"""Level names as programs spell them, and OpenTelemetry severity numbers, as lcdev levels.

Shared by the line parser (``logparse.py``) and the OTLP decoder (``otlp/convert.py``), so a
``WARNING`` printed on stderr and a ``WARNING`` severity text in an OTLP log are the same level.
"""

from __future__ import annotations

from lcdev.telemetry.records import LEVELS, Level

__all__ = ["LEVEL_WORDS", "level_named", "severity_level"]

LEVEL_WORDS: dict[str, Level] = {
    "trace": "trace", "debug": "debug", "debug1": "debug", "debug2": "debug",
    "debug3": "debug", "debug4": "debug", "debug5": "debug", "dbg": "debug",
    "info": "info", "information": "info", "log": "info", "notice": "info",
    "warn": "warn", "warning": "warn",
    "error": "error", "err": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "panic": "fatal",
    "alert": "fatal", "emerg": "fatal", "emergency": "fatal",
}
"""Lower-case level words (syslog, PostgreSQL, Python logging, Rust, Go) and their level."""


def level_named(word: str) -> Level | None:
    """The level a word names (any case), or None."""
    return LEVEL_WORDS.get(word.lower())


def severity_level(number: int) -> Level:
    """The level of an OpenTelemetry SeverityNumber (1..24: four numbers per level)."""
    return LEVELS[(number - 1) // 4]
