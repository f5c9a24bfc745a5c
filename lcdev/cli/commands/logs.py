"""``lcdev logs``: the merged output of every component, or of one."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import EXIT_USAGE, WorkspaceOption, abort, resolve_root
from lcdev.core.events import LogLineEmitted
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import SupervisorUnavailable, connect

__all__ = ["logs"]


def logs(
    name: Annotated[str | None, typer.Argument(help="Only this component.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming.")] = False,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Lines of history (0: all kept).")
                    ] = 200,
    json_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")
                          ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Show logs. Without a running stack, shows the last run's log files."""
    root = resolve_root(workspace)
    layout = WorkspaceLayout(root)
    client = connect(layout)
    if client is None:
        _offline(layout, name, tail)
        return
    try:
        for event in client.logs(name, tail=tail, follow=follow):
            if not isinstance(event, LogLineEmitted):
                continue
            if json_lines:
                output.console.out(json.dumps(dataclasses.asdict(event)), highlight=False)
            else:
                output.print_log_line(event)
    except SupervisorUnavailable as exc:
        abort(str(exc), code=EXIT_USAGE)
    except KeyboardInterrupt:
        pass


def _offline(layout: WorkspaceLayout, name: str | None, tail: int) -> None:
    files = sorted(layout.logs_dir.glob("*.log")) if layout.logs_dir.exists() else []
    files = [f for f in files if name is None or f.stem == name]
    if not files:
        abort("the stack is not running and there are no logs from an earlier run",
              "start it with `lcdev up`")
    output.info("[dim]the stack is not running; these are the logs of its last run[/]")
    for path in files:
        lines = path.read_text(errors="replace").splitlines()
        for line in lines[-tail:] if tail else lines:
            output.print_log_line(LogLineEmitted(source=path.stem, stream="file", text=line,
                                                 at=path.stat().st_mtime))
