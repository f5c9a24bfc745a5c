"""``lcdev apply``: ask the running supervisor to reload now, and show what came of it.

The supervisor reloads on its own when files are saved; this is for the cases where it did
not: a destructive schema change it refused (allowed here, per service), a stack started with
``lcdev up --no-watch``, or simply "make it so now".
"""

from __future__ import annotations

from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    JsonOption,
    WorkspaceOption,
    abort,
    resolve_root,
)
from lcdev.core.events import ReloadFailed
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import SupervisorUnavailable, connect

__all__ = ["apply"]


def apply(
    services: Annotated[list[str] | None, typer.Argument(
        metavar="SERVICE", show_default=False,
        help="Services to reload (default: those whose files changed since they last "
             "served, or all when none did).")] = None,
    allow_destructive: Annotated[bool, typer.Option(
        "--allow-destructive",
        help="Let the named services' migrations drop or narrow columns and tables. The data "
             "in them is lost. Needs the services named.")] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Reload services of the running stack now, and wait until it is done.

    Prints what each reload did. Exits 1 if any did not happen (invalid
    definitions, a refused destructive change, a failure); a service whose
    reload did not happen keeps serving the version it ran.

    Examples:
      lcdev apply                             what changed since it last served
      lcdev apply orders payments             these two, even if nothing changed
      lcdev apply --allow-destructive orders  let orders drop a removed column
    """
    names = list(services or [])
    if allow_destructive and not names:
        abort("--allow-destructive needs the services it applies to: destructive changes "
              "are allowed per service", "name them, e.g. `lcdev apply --allow-destructive "
              "orders`", EXIT_USAGE)
    root = resolve_root(workspace)
    client = connect(WorkspaceLayout(root))
    if client is None:
        abort(f"no stack is running for {root}",
              "start it with `lcdev up` (it then reloads on every save by itself)")
    try:
        events = client.reload(names, allow_destructive)
    except SupervisorUnavailable as exc:
        abort(f"the reload was not done: {exc}")
    if json_output:
        output.print_json([event.to_dict() for event in events])
    else:
        for event in events:
            output.print_event(event)
        if not events:
            output.info("nothing to reload")
    if any(isinstance(event, ReloadFailed) for event in events):
        raise typer.Exit(EXIT_FAILED)
