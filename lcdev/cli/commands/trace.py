"""``lcdev trace ID``: one trace as a waterfall, with its log lines."""

from __future__ import annotations

from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.commands._telemetry import StoreOption, open_store, resolve_trace_id
from lcdev.cli.common import JsonOption, WorkspaceOption, abort, resolve_root

__all__ = ["trace"]


def trace(
    trace_id: Annotated[str, typer.Argument(
        metavar="ID", help="The trace id, or any unique prefix of it (as `lcdev traces` shows).")],
    attrs: Annotated[bool, typer.Option(
        "--attrs", "-a", help="Show each span's attributes and events.")] = False,
    no_logs: Annotated[bool, typer.Option(
        "--no-logs", help="Leave out the log lines written during the trace.")] = False,
    json_output: JsonOption = False,
    store_file: StoreOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Show one trace as a waterfall: the span tree with each span's offset, duration and a
    bar on the trace's time axis; failed spans in red with their exception; the trace's log
    lines under the span that wrote them.

    Exit 1 when no stored trace has that id (or the prefix matches several).

    Examples:
      lcdev trace 4bf92f35
      lcdev trace 4bf92f35 --attrs        with span attributes and exception stack traces
      lcdev trace 4bf92f35 --json | jq '.spans[] | .name'
    """
    from lcdev.cli.views.records_json import trace_detail_json
    from lcdev.cli.views.waterfall import waterfall

    store = open_store(resolve_root(workspace), store_file)
    try:
        detail = store.get_trace(resolve_trace_id(store, trace_id))
    finally:
        store.close()
    if detail is None:  # pruned between the two questions
        abort(f"no trace {trace_id}", "`lcdev traces` lists the recent ones")
    if json_output:
        output.print_json(trace_detail_json(detail.trace_id, detail.spans, detail.logs))
        return
    output.console.print(waterfall(detail.spans, detail.logs, output.console.width,
                                   show_attrs=attrs, show_logs=not no_logs))
