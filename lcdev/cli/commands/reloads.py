"""``lcdev reloads``: the history of hot reloads, read from the file the supervisor appends to.

It reads ``.lcdev/telemetry/reloads.ndjson`` directly, so it works the same whether the stack
runs or not. A line that cannot be read (cut short by a crash, edited by hand, written by an
lcdev that knows other fields) is skipped and counted, never fatal: a history is for looking
back, and one bad line must not hide the rest.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from lcdev.cli import output
from lcdev.cli.common import JsonOption, WorkspaceOption, resolve_root
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ServiceReloaded,
    WorkspaceReloaded,
    event_from_dict,
)
from lcdev.core.layout import WorkspaceLayout

__all__ = ["read_history", "reloads"]

_KINDS = (ServiceReloaded, ReloadFailed, WorkspaceReloaded)


def reloads(
    service: Annotated[str | None, typer.Option(
        "--service", "-s", show_default=False,
        help="Only this service's reloads (`workspace` for lcdev.yaml).")] = None,
    last: Annotated[int, typer.Option(
        "--last", "-n", min=1, help="How many reloads at most (the newest).")] = 20,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List recent hot reloads, oldest first: when, which service, the outcome,
    the versions, how long from the save to serving, and what changed (or why
    the reload did not happen).

    Works whether or not the stack runs; the history is kept until
    `lcdev down -v`.

    Examples:
      lcdev reloads                   the last 20 reloads
      lcdev reloads -s orders -n 5    the last 5 reloads of orders
      lcdev reloads --json            every field, for scripts
    """
    root = resolve_root(workspace)
    history = WorkspaceLayout(root).reloads_file
    events, skipped = read_history(history)
    if service is not None:
        from lcdev.cli.views.reload_table import service_of

        events = [event for event in events if service_of(event) == service]
    events = events[-last:]
    if skipped:
        output.info(f"[dim]skipped {skipped} unreadable line{'s' if skipped > 1 else ''} of "
                    f"{history.relative_to(root)}[/]")
    if json_output:
        output.print_json([event.to_dict() for event in events])
    elif events:
        from lcdev.cli.views.reload_table import reloads_view

        output.console.print(reloads_view(events, output.console.width))
    elif service is not None:
        output.info(f"no reloads of {service} yet")
    else:
        output.info("no reloads yet: they are listed here once a definition is saved while "
                    "the stack runs")


def read_history(path: Path) -> tuple[list[Event], int]:
    """The reloads recorded in ``path``, oldest first, and how many lines were skipped as
    unreadable. No file: no reloads. Other kinds of events (``ReloadStarted``) are left out
    without counting as unreadable."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], 0
    events: list[Event] = []
    skipped = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            event = event_from_dict(data if isinstance(data, dict) else {})
        except (ValueError, TypeError):  # bad JSON, not an object, unknown type, missing field
            skipped += 1
            continue
        if not isinstance(event, _KINDS):
            continue
        if _well_formed(event):
            events.append(event)
        else:
            skipped += 1
    return events, skipped


_FIELD_TYPES: dict[type[Event], dict[str, Any]] = {}


def _well_formed(event: Event) -> bool:
    """Every field has the type its declaration says (a list of strings holds strings), so
    the views can rely on it: the event was built from JSON nobody checked."""
    kind = type(event)
    if kind not in _FIELD_TYPES:
        hints = typing.get_type_hints(kind)
        _FIELD_TYPES[kind] = {item.name: hints[item.name] for item in dataclasses.fields(kind)}
    return all(_conforms(getattr(event, name), declared)
               for name, declared in _FIELD_TYPES[kind].items())


def _conforms(value: object, declared: Any) -> bool:
    kind = typing.get_origin(declared) or declared
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if not isinstance(value, kind):
        return False
    if isinstance(value, list):
        return all(isinstance(item, str) for item in value)
    if isinstance(value, dict):
        return all(isinstance(item, int | float) for item in value.values())
    return True
