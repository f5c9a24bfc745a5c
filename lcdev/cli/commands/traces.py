"""``lcdev traces``: the workspace's recent traces, newest first."""

from __future__ import annotations

from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.commands._telemetry import SinceOption, StoreOption, open_store, parse_duration
from lcdev.cli.common import JsonOption, WorkspaceOption, resolve_root

__all__ = ["traces"]


def traces(
    service: Annotated[str | None, typer.Option(
        "--service", "-s", show_default=False, help="Only traces this service took part in.")
    ] = None,
    route: Annotated[str | None, typer.Option(
        "--route", "-r", show_default=False,
        help="Only traces whose root has this route (http.route or topic).")] = None,
    slow: Annotated[int | None, typer.Option(
        "--slow", parser=parse_duration, metavar="DURATION", show_default=False,
        help="Only traces that took at least this long: 100ms, 1.5s (a bare number is ms).")
    ] = None,
    errors: Annotated[bool, typer.Option(
        "--errors", "-e", help="Only traces with a failed span.")] = False,
    limit: Annotated[int, typer.Option(
        "--limit", "-n", min=1, help="How many traces at most.")] = 20,
    since: SinceOption = None,
    json_output: JsonOption = False,
    store_file: StoreOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """List recent traces: start, id, root span, services, spans, duration, status.

    Pass an id (or any unique prefix of it) to `lcdev trace` to see its waterfall.

    Examples:
      lcdev traces                        the last 20 traces
      lcdev traces --errors --since 1h    what failed in the last hour
      lcdev traces -s payments --slow 100ms
      lcdev traces --route /orders/orders --json
    """
    from lcdev.cli.views.records_json import trace_json
    from lcdev.cli.views.trace_table import trace_table
    from lcdev.telemetry.store import TraceQuery

    store = open_store(resolve_root(workspace), store_file)
    try:
        found = store.list_traces(TraceQuery(service=service, route=route, min_duration_ns=slow,
                                             errors_only=errors, since_ns=since, limit=limit))
    finally:
        store.close()
    if json_output:
        output.print_json([trace_json(trace) for trace in found])
    elif found:
        output.console.print(trace_table(found, output.console.width))
    else:
        output.info("no traces match" if any((service, route, slow, errors, since))
                    else "no traces yet: send a request through the gateway")
