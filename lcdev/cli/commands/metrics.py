"""``lcdev metrics``: requests, errors and latency per route; events per topic."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.commands._telemetry import StoreOption, open_store, parse_since
from lcdev.cli.common import JsonOption, WorkspaceOption, abort, resolve_root

__all__ = ["metrics"]

_DEFAULT_WINDOW_NS = 15 * 60 * 1_000_000_000


def metrics(
    service: Annotated[str | None, typer.Argument(
        metavar="SERVICE", show_default=False, help="Only this service (default: all).")
    ] = None,
    since: Annotated[int | None, typer.Option(
        "--since", parser=parse_since, metavar="AGE|TIME", show_default=False,
        help="Window start: an age (30s, 5m, 2h, 1d) or a time (14:03); 15m when not given.")
    ] = None,
    json_output: JsonOption = False,
    store_file: StoreOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Requests, errors, error rate and p50/p95/p99 latency per service and route; events
    published and consumed per topic, with consumer lag. Derived from the stored spans.

    Examples:
      lcdev metrics                       every service, the last 15 minutes
      lcdev metrics orders --since 1h
      lcdev metrics --json | jq '.routes[] | select(.errors > 0)'
    """
    from lcdev.cli.views.metrics_tables import metrics_json, metrics_tables

    since_ns = since if since is not None else time.time_ns() - _DEFAULT_WINDOW_NS
    store = open_store(resolve_root(workspace), store_file)
    try:
        rows = store.route_metrics(service=service, since_ns=since_ns)
        known = store.services() if service and not rows else []
    finally:
        store.close()
    if service and not rows and service not in known:
        abort(f"no telemetry from {service}", "services seen: " + (", ".join(known) or "none"))
    if json_output:
        output.print_json(metrics_json(rows, since_ns))
    elif rows:
        output.console.print(metrics_tables(rows))
    else:
        output.info("no requests or events in that window; `--since 1d` looks further back")
