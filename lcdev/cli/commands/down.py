"""``lcdev down``: stop everything the workspace's supervisor started."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import WorkspaceOption, resolve_root
from lcdev.core.events import StackStopped
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import connect
from lcdev.supervisor.records import read_supervisor_record, wait_for_exit

__all__ = ["down"]


def down(
    volumes: Annotated[bool, typer.Option("--volumes", "-v",
                       help="Also delete the stack's data (PostgreSQL cluster, broker data).")
                       ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Stop every process of the workspace and free its ports. Data is kept unless -v."""
    root = resolve_root(workspace)
    layout = WorkspaceLayout(root)
    client = connect(layout)
    if client is None:
        from lcdev.supervisor.launcher import cleanup_offline

        done = cleanup_offline(root, volumes)
        for line in done:
            output.success(line)
        if not done:
            output.info("nothing is running")
        return
    record = read_supervisor_record(layout)
    requested = time.time()
    client.shutdown(remove_data=volumes)
    for event in client.events(logs=False, follow=True):
        if event.at >= requested:
            output.print_event(event)
        if isinstance(event, StackStopped):
            break
    if record is not None and not wait_for_exit(record.pid, timeout=15):
        output.fail(f"the supervisor (pid {record.pid}) did not exit in 15 s")
        raise typer.Exit(1)
