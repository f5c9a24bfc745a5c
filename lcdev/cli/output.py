"""All terminal output of the CLI: rich lives here and nowhere else in the CLI.

Colours follow the terminal and respect ``NO_COLOR``; ``--json`` output goes through
``print_json`` so scripts get plain, stable JSON on stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lcdev.core.events import (
    ComponentCrashed,
    ComponentFailed,
    ComponentReady,
    ComponentRestarting,
    ComponentStarting,
    ComponentStopped,
    Event,
    LogLineEmitted,
    ReloadFailed,
    ServiceReloaded,
    StackFailed,
    StackReady,
    StackStopped,
    StackStopping,
    WorkspaceReloaded,
)

__all__ = [
    "console",
    "err",
    "fail",
    "info",
    "print_event",
    "print_json",
    "print_log_line",
    "print_problems",
    "print_status",
    "success",
]

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

_STATE_STYLES = {
    "healthy": "green", "starting": "yellow", "restarting": "yellow", "pending": "dim",
    "crashed": "red", "failed": "bold red", "stopping": "yellow", "stopped": "dim",
    "defined": "dim",
}


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def info(message: str) -> None:
    err.print(message)


def success(message: str) -> None:
    err.print(f"[green]✓[/] {message}")


def fail(message: str, hint: str = "") -> None:
    err.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        err.print(f"[dim]hint:[/] {escape(hint)}")


def print_problems(problems: Iterable[Any]) -> None:
    for problem in problems:
        warning = getattr(problem, "severity", "") == "warning" or ": warning: " in str(problem)
        style = "yellow" if warning else "red"
        err.print(f"[{style}]{escape(str(problem))}[/]", soft_wrap=True)  # one line: greppable


def print_log_line(event: LogLineEmitted, width: int = 13) -> None:
    """A line streamed by ``lcdev up``, shown exactly as ``lcdev logs`` shows it: parsed
    (level, message, trace id out of JSON lines), coloured per service."""
    from lcdev.cli.views.log_lines import log_line
    from lcdev.telemetry.logparse import parse_line

    record = parse_line(event.source, event.stream, event.text, int(event.at * 1e9))
    console.print(log_line(record, width), soft_wrap=True)


def print_event(event: Event) -> None:
    """One human line per life-cycle event (logs go through ``print_log_line``)."""
    if isinstance(event, ComponentStarting):
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        info(f"[yellow]•[/] starting {event.name} on port {event.port}{again}")
    elif isinstance(event, ComponentReady):
        success(f"{event.name} ready in {event.seconds * 1000:.0f} ms — {event.url}")
    elif isinstance(event, ComponentFailed):
        fail(f"{event.reason}", event.hint)
        for line in event.last_lines[-15:]:
            err.print(f"  [dim]│[/] {escape(line)}")
    elif isinstance(event, ComponentCrashed):
        err.print(f"[bold red]✗[/] {event.name} crashed (exit {event.exit_code}); "
                  f"restarting in {event.restart_in:.2f}s")
        for line in event.last_lines[-5:]:
            err.print(f"  [dim]│[/] {escape(line)}")
    elif isinstance(event, ComponentRestarting):
        info(f"[yellow]↻[/] restarting {event.name} (crash #{event.attempt})")
    elif isinstance(event, ComponentStopped):
        info(f"[dim]■ {event.name} stopped[/]")
    elif isinstance(event, StackReady):
        success(f"stack ready in {event.seconds:.2f}s — gateway {event.gateway_url}")
    elif isinstance(event, StackFailed):
        fail(event.reason)
    elif isinstance(event, StackStopping):
        info("stopping everything" + (" and removing data" if event.remove_data else ""))
    elif isinstance(event, StackStopped):
        success("stopped" + (", data removed" if event.removed_data else ""))
    elif isinstance(event, ServiceReloaded | ReloadFailed | WorkspaceReloaded):
        _print_reload(event)
    # ReloadStarted is not printed: its outcome follows within a fraction of a second and
    # says everything, so a line announcing it would only double the output of every save.


_CHANGES_SHOWN = 6
_RELOAD_MARKS = {"started": "[green]+[/]", "stopped": "[dim]■[/]"}


def _print_reload(event: ServiceReloaded | ReloadFailed | WorkspaceReloaded) -> None:
    """``↻ orders 1.0.0 → 1.1.0 swapped in 42 ms: + field Order.note``; a reload that did not
    happen in red with each problem on its own line (file:line:col first, so editors and
    terminals can jump to it) and the hint."""
    from lcdev.cli.views.reload_table import needs_up_sentence, took, versions

    if isinstance(event, ServiceReloaded):
        changes = event.changes[:_CHANGES_SHOWN]
        more = len(event.changes) - len(changes)
        what = ", ".join(changes) + (f", +{more} more" if more else "")
        line = " ".join(part for part in (event.name, versions(event), event.how) if part)
        timed = f" in {took(event)}" if event.seconds > 0 else ""
        mark = _RELOAD_MARKS.get(event.how, "[green]↻[/]")
        err.print(f"{mark} {escape(line)}{timed}" + (f": {escape(what)}" if what else ""),
                  soft_wrap=True)
    elif isinstance(event, ReloadFailed):
        err.print(f"[bold red]✗ {escape(event.name)} not reloaded ({escape(event.reason)}):[/]"
                  f" {escape(event.message)}", soft_wrap=True)
        for problem in event.problems:
            err.print(f"  [red]{escape(problem)}[/]", soft_wrap=True)  # one line: greppable
        if event.hint:
            err.print(f"  [dim]hint:[/] {escape(event.hint)}", soft_wrap=True)
    else:
        timed = f" in {took(event)}" if event.seconds > 0 else ""
        if event.applied:
            err.print(f"[green]↻[/] lcdev.yaml applied{timed}: "
                      f"{escape(', '.join(event.applied))}", soft_wrap=True)
        elif event.needs_up:
            err.print("[yellow]![/] lcdev.yaml changed; nothing of it applies live")
        else:
            err.print(f"[green]↻[/] lcdev.yaml reloaded{timed}: nothing changed")
        for setting in event.needs_up:
            err.print(f"  [yellow]{escape(needs_up_sentence(setting))}[/]", soft_wrap=True)


def print_status(status: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(status.get('workspace', '?'))}[/] — {status.get('phase')} on the "
        f"{status.get('backend')} backend (supervisor pid {status.get('pid')})"
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("COMPONENT", "STATE", "PROCESS", "PORT", "RESTARTS"):
        table.add_column(column, no_wrap=True)
    table.add_column("URL", overflow="fold")  # copied by users: never cut short
    components = {item["name"]: item for item in status.get("components", [])}
    for item in components.values():
        if item.get("kind", "infra") != "infra":
            continue
        state = item["state"]
        table.add_row(
            item["name"], f"[{_STATE_STYLES.get(state, '')}]{state}[/]", item.get("ident") or "-",
            str(item["port"]), str(item["restarts"]), escape(item["url"]),
        )
    console.print(table)
    services = status.get("services", [])
    if services:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("SERVICE", "KIND", "VERSION", "STATE", "PROCESS", "PORT", "ROUTE"):
            table.add_column(column)
        for item in services:
            state = item["state"]
            component = components.get(item["name"], {})
            table.add_row(item["name"], item["kind"], item.get("version", ""),
                          f"[{_STATE_STYLES.get(state, '')}]{state}[/]",
                          component.get("ident") or "-", str(component.get("port", "-")),
                          item["route"])
        console.print(table)
    if status.get("gateway_url"):
        console.print(f"gateway: [bold]{status['gateway_url']}[/]")
    telemetry = status.get("telemetry") or {}
    if telemetry.get("otlp_endpoint"):
        forward = telemetry.get("forward") or {}
        extra = f" · forwarding to {escape(forward['endpoint'])}" if forward else ""
        if forward.get("last_error"):
            extra += f" [yellow](failing: {escape(str(forward['last_error']))})[/]"
        console.print(f"telemetry: OTLP/HTTP {escape(telemetry['otlp_endpoint'])}{extra} "
                      "[dim]· lcdev logs · lcdev traces · lcdev metrics[/]")
    elif telemetry.get("receiver_error"):
        console.print(f"telemetry: [yellow]{escape(telemetry['receiver_error'])}[/]")
    reload = status.get("reload")
    if reload is not None:
        watching = ("watching the workspace: saves reload" if reload.get("watching")
                    else "[yellow]not watching[/]: `lcdev apply` reloads")
        pending = reload.get("pending") or []
        waiting = (f" · [red]not applied: {escape(', '.join(pending))}[/]"
                   " (fix, save again or `lcdev apply`)" if pending else "")
        console.print(f"hot reload: {watching}{waiting} [dim]· lcdev reloads[/]")
