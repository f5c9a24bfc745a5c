"""``lcdev logs``: the merged log lines of every service, from the telemetry store."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lcdev.cli import output
from lcdev.cli.commands._telemetry import (
    SinceOption,
    StoreOption,
    open_store,
    parse_level,
    resolve_trace_id,
    store_path,
)
from lcdev.cli.common import WorkspaceOption, abort, resolve_root

if TYPE_CHECKING:
    from collections.abc import Sequence

    from lcdev.telemetry.records import Level, LogRecord
    from lcdev.telemetry.store import LogQuery, TelemetryStore

__all__ = ["logs"]


def logs(
    services: Annotated[list[str] | None, typer.Argument(
        metavar="SERVICE", show_default=False,
        help="Only these services or components (default: all).")] = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    tail: Annotated[int, typer.Option(
        "--tail", "-n", min=0, help="Lines of history to show first (0: all kept).")] = 200,
    level: Annotated[str | None, typer.Option(
        "--level", "-l", parser=parse_level, show_default=False,
        help="Only this level and above: trace, debug, info, warn, error, fatal.")] = None,
    grep: Annotated[str | None, typer.Option(
        "--grep", "-g", metavar="REGEX", show_default=False,
        help="Only messages matching this Python regular expression.")] = None,
    ignore_case: Annotated[bool, typer.Option(
        "--ignore-case", "-i", help="Match --grep without regard to case.")] = False,
    trace: Annotated[str | None, typer.Option(
        "--trace", "-t", metavar="ID", show_default=False,
        help="Only lines of this trace (a unique prefix of its id is enough).")] = None,
    since: SinceOption = None,
    json_lines: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line, every field, messages uncut.")] = False,
    store_file: StoreOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Show the merged logs of every service, coloured per service.

    Lines come from the workspace's telemetry store, so they are there after the stack
    stopped too (until `lcdev down -v`). Exit 1 when nothing has run here yet.

    Examples:
      lcdev logs -f                       follow everything
      lcdev logs orders payments -n 50    the last 50 lines of two services
      lcdev logs --level warn --since 10m warnings and errors of the last 10 minutes
      lcdev logs -g 'order \\d+' -i        lines matching a regular expression
      lcdev logs --trace 4bf92f35         the lines of one trace
      lcdev logs --json | jq .message     for scripts
    """
    filters = _Filters(services=tuple(services or ()),
                       min_level=parse_level(level) if level else None,  # narrowed to Level
                       grep=_checked_pattern(grep, ignore_case), trace=trace, since_ns=since)
    root = resolve_root(workspace)
    try:
        _show(root, filters, tail=tail, follow=follow, as_json=json_lines,
              store_file=store_file)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how -f ends: a clean exit 0, no traceback
    except BrokenPipeError:  # `lcdev logs | head`: the reader is gone, nothing left to say
        _quiet_stdout()
        raise typer.Exit(1) from None  # Python's convention for EPIPE, as rich does


def _checked_pattern(grep: str | None, ignore_case: bool) -> str | None:
    """The pattern, compiled once here so a typo is a usage error rather than a traceback."""
    import re

    if grep is None:
        return None
    pattern = f"(?i){grep}" if ignore_case else grep
    try:
        re.compile(pattern)
    except re.error as exc:
        raise typer.BadParameter(f"{grep!r} is not a regular expression: {exc}",
                                 param_hint="--grep") from None
    return pattern


POLL_SECONDS = 0.1
_BATCH = 2_000


@dataclass(frozen=True)
class _Filters:
    services: tuple[str, ...]
    min_level: Level | None
    grep: str | None
    trace: str | None
    since_ns: int | None


def _show(root: Path, filters: _Filters, *, tail: int, follow: bool, as_json: bool,
          store_file: Path | None = None) -> None:
    path = store_file or store_path(root)
    if follow:
        if not path.exists():
            output.info("[dim]no telemetry yet; waiting for `lcdev up` (Ctrl-C to stop)[/]")
        opened = _open_when_ready(path)
    else:
        opened = _OpenStore(open_store(root, store_file), identity=None)
    try:
        store = opened.store
        known = store.services()
        query = _query(store, filters, known, follow)
        printer = _Printer(as_json, filters.services or tuple(known))
        last_id = _history(store, query, tail, printer)
        if follow:
            _follow(path, opened, query, last_id, printer)
        elif last_id == 0 and not as_json:
            output.info("[dim]no log lines match[/]")
    finally:
        opened.store.close()


_FileIdentity = tuple[int, int] | None


@dataclass
class _OpenStore:
    """The store being read, and which file it is (``lcdev down -v`` replaces the file)."""

    store: TelemetryStore
    identity: _FileIdentity


def _open_when_ready(path: Path) -> _OpenStore:
    """The store at ``path`` once there is a readable one (the supervisor creates it). The
    file's identity is taken before opening: a file replaced meanwhile is noticed later."""
    from lcdev.telemetry.store import StoreUnavailable, TelemetryStore

    while True:
        identity = _identity(path)
        try:
            return _OpenStore(TelemetryStore.open(path, readonly=True), identity)
        except StoreUnavailable:
            time.sleep(POLL_SECONDS * 5)


def _query(store: TelemetryStore, filters: _Filters, known: list[str], follow: bool
           ) -> LogQuery:
    """The store query for the filters, after checking the services and the trace exist."""
    from lcdev.telemetry.store import LogQuery

    unknown = [name for name in filters.services if name not in known]
    if unknown:
        listed = ", ".join(known) or "none yet"
        if not follow:
            abort(f"no log lines from {', '.join(unknown)}", f"services with logs: {listed}")
        output.info(f"[yellow]no lines from {', '.join(unknown)} yet[/] (services with logs: "
                    f"{listed}); waiting for them")
    trace_id = resolve_trace_id(store, filters.trace) if filters.trace else None
    return LogQuery(services=filters.services, min_level=filters.min_level, grep=filters.grep,
                    trace_id=trace_id, since_ns=filters.since_ns)


def _history(store: TelemetryStore, query: LogQuery, tail: int, printer: _Printer) -> int:
    """Print the last ``tail`` matching lines (all when 0); the id of the last one, or 0."""
    from dataclasses import replace

    if tail:
        newest = store.query_logs(replace(query, limit=tail, newest_first=True))
        printer.print(sorted(newest, key=_by_time))
        return max((record.id for record in newest), default=0)
    last_id = 0
    while batch := store.query_logs(replace(query, after_id=last_id or None, limit=_BATCH)):
        printer.print(sorted(batch, key=_by_time))
        last_id = max(record.id for record in batch)
    return last_id


def _by_time(record: LogRecord) -> tuple[int, int]:
    """History reads best in time order: lines exported over OTLP arrive a little late."""
    return record.time_ns, record.id


def _follow(path: Path, opened: _OpenStore, query: LogQuery, last_id: int,
            printer: _Printer) -> None:
    """Poll for lines newer than ``last_id`` until Ctrl-C. When the store is removed
    (`lcdev down -v`) or replaced, wait for the new one (``opened`` is updated) and follow it
    from its start."""
    from dataclasses import replace

    while True:
        batch = opened.store.query_logs(replace(query, after_id=last_id or None, limit=_BATCH))
        printer.print(batch)  # as they arrive
        if batch:
            last_id = max(record.id for record in batch)
        if len(batch) == _BATCH:
            continue  # more are waiting: no sleep
        time.sleep(POLL_SECONDS)
        if _identity(path) != opened.identity:
            opened.store.close()
            replaced = _open_when_ready(path)
            opened.store, opened.identity, last_id = replaced.store, replaced.identity, 0


def _identity(path: Path) -> _FileIdentity:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class _Printer:
    """Writes records as lines for people or as JSON objects, flushing each batch so a
    pipe reader (or a test) sees them at once. The service column is as wide as the longest
    name expected, and widens (within reason) when a longer one turns up while following."""

    def __init__(self, as_json: bool, services: Sequence[str]) -> None:
        from lcdev.cli.views.log_lines import service_width

        self.as_json = as_json
        self.width = service_width(services)

    def print(self, records: Sequence[LogRecord]) -> None:
        if not records:
            return
        if self.as_json:
            import orjson

            from lcdev.cli.views.records_json import log_json

            sys.stdout.write("".join(
                orjson.dumps(log_json(record), default=str).decode() + "\n"
                for record in records))
            sys.stdout.flush()
            return
        from lcdev.cli.views.ansi import render_lines
        from lcdev.cli.views.log_lines import log_parts, service_width

        lines = []
        for record in records:
            if len(record.service) > self.width:
                self.width = max(self.width, service_width([record.service]))
            lines.append(log_parts(record, self.width))
        stream = output.console.file
        stream.write(render_lines(lines, output.console))
        stream.flush()


def _quiet_stdout() -> None:
    """After the reader of a pipe went away, point stdout at /dev/null so the interpreter's
    final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # not a real file (tests): nothing will be flushed to it anyway
