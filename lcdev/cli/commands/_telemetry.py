"""What ``logs``, ``traces``, ``trace`` and ``metrics`` share: option parsers and the store.

Kept light at import time (stdlib and typer only): ``lcdev --help`` imports every command
module, and the store, rich views and sqlite are loaded only when a command runs.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from lcdev.cli.common import EXIT_USAGE, abort
from lcdev.core.layout import WorkspaceLayout

if TYPE_CHECKING:
    from lcdev.telemetry.records import Level
    from lcdev.telemetry.store import TelemetryStore

__all__ = [
    "LEVEL_NAMES",
    "SinceOption",
    "StoreOption",
    "no_telemetry_yet",
    "open_store",
    "parse_duration",
    "parse_level",
    "parse_since",
    "resolve_trace_id",
    "store_path",
]

# lcdev.telemetry.records.LEVELS, spelt out so that --help does not import the records
_LEVELS: dict[str, Level] = {"trace": "trace", "debug": "debug", "info": "info", "warn": "warn",
                             "error": "error", "fatal": "fatal", "warning": "warn",
                             "err": "error", "critical": "fatal", "crit": "fatal"}
LEVEL_NAMES = ("trace", "debug", "info", "warn", "error", "fatal")
_UNITS_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
             "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000,
             "w": 604_800_000_000_000}
_AMOUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zµ]*)\s*$")


def parse_duration(text: str, default_unit: str = "ms") -> int:
    """``100ms``, ``1.5s``, ``250us``, ``5m``, ``2h``, ``1d`` (a bare number is in
    ``default_unit``) as nanoseconds."""
    match = _AMOUNT.match(text.lower())
    unit = (match.group(2) or default_unit) if match else ""
    if match is None or unit not in _UNITS_NS:
        raise typer.BadParameter(
            f"{text!r} is not a duration; use a number and a unit: 250us, 100ms, 1.5s, 5m, "
            "2h, 1d")
    return int(float(match.group(1)) * _UNITS_NS[unit])


def parse_since(text: str) -> int:
    """A moment as epoch ns: an age (``30s``, ``5m``, ``2h``, ``1d``), an ISO-8601 timestamp
    (``2026-05-01T14:03``, local time unless it names a zone) or a time today (``14:03``)."""
    if _AMOUNT.match(text.lower()):
        return time.time_ns() - parse_duration(text, default_unit="s")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(datetime.now().date(), clock_time.fromisoformat(text))
        except ValueError:
            raise typer.BadParameter(
                f"{text!r} is neither an age (30s, 5m, 2h, 1d) nor a time (14:03, "
                "2026-05-01T14:03:00, 2026-05-01T12:03:00Z)") from None
    return int(moment.timestamp() * 1_000_000_000)  # naive means local, as users read clocks


def parse_level(text: str) -> Level:
    """A level name, or a common other spelling of one (``warning``, ``critical``)."""
    level = _LEVELS.get(text.lower())
    if level is None:
        raise typer.BadParameter(f"{text!r} is not a level; use one of {', '.join(LEVEL_NAMES)}")
    return level


SinceOption = Annotated[int | None, typer.Option(
    "--since", parser=parse_since, metavar="AGE|TIME", show_default=False,
    help="Only since then: an age (30s, 5m, 2h, 1d) or a time (14:03, 2026-05-01T14:03).")]


def store_path(root: Path) -> Path:
    return WorkspaceLayout(root).telemetry_db


def no_telemetry_yet(root: Path) -> NoReturn:
    """Exit 1 with a hint: nothing has ever run here, so there is nothing to show."""
    abort(f"no telemetry yet in {root}",
          "start the stack with `lcdev up`; logs, traces and metrics are kept in "
          ".lcdev/telemetry until `lcdev down -v`")


StoreOption = Annotated[Path | None, typer.Option(
    "--store", metavar="PATH", help="Read this telemetry store instead of the workspace's "
    "(e.g. one `lcdev test` kept in .lcdev/test-runs/).")]


def open_store(root: Path, store: Path | None = None) -> TelemetryStore:
    """A read-only connection to the workspace's store, or to ``store`` (it never blocks the
    supervisor)."""
    from lcdev.telemetry.store import StoreUnavailable, TelemetryStore

    path = store if store is not None else store_path(root)
    if store is not None and not path.is_file():
        abort(f"no telemetry store at {path}", "`lcdev test` prints the path of the one it kept")
    if not path.exists():
        no_telemetry_yet(root)
    try:
        return TelemetryStore.open(path, readonly=True)
    except StoreUnavailable as exc:  # not a database, or a schema this lcdev does not read
        abort(str(exc), "the supervisor recreates the store when it starts (`lcdev up`)")


_HEX = re.compile(r"^[0-9a-f]{1,32}$")
_CANDIDATES_SHOWN = 10


def resolve_trace_id(store: TelemetryStore, text: str) -> str:
    """The full id of the one stored trace whose id starts with ``text``. Exit 1 naming the
    candidates when the prefix is ambiguous, or saying so when no trace has it."""
    prefix = text.strip().lower()
    if not _HEX.match(prefix):
        abort(f"{text!r} is not a trace id", "trace ids are up to 32 hex digits; "
              "`lcdev traces` lists the recent ones", EXIT_USAGE)
    matches = store.match_trace_ids(prefix, limit=_CANDIDATES_SHOWN + 1)
    if not matches:
        abort(f"no trace {prefix}", "`lcdev traces` lists the recent ones (ids may be "
              "shortened to any unique prefix)")
    if len(matches) > 1:
        more = " …" if len(matches) > _CANDIDATES_SHOWN else ""
        abort(f"{prefix} matches several traces: "
              + ", ".join(matches[:_CANDIDATES_SHOWN]) + more,
              "give more of the id")
    return matches[0]
