"""``lcdev status``: what runs, where, and how to connect to it."""

from __future__ import annotations

import typer

from lcdev.cli import output
from lcdev.cli.common import JsonOption, WorkspaceOption, resolve_root
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import connect

__all__ = ["status"]


def status(json_output: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Components and services with state, process, ports and URLs. Exit 1 when not running."""
    root = resolve_root(workspace)
    client = connect(WorkspaceLayout(root))
    if client is None:
        if json_output:
            output.print_json({"running": False, "root": str(root)})
        else:
            output.info(f"not running ({root}); start it with `lcdev up`")
        raise typer.Exit(1)
    data = {"running": True, **client.status()}
    if json_output:
        output.print_json(data)
    else:
        output.print_status(data)
