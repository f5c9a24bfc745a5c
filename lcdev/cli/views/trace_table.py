"""Recent traces as a table.

One row per trace, newest first: when it started, the short id (any unique prefix works with
``lcdev trace``), what the root span did, the services it touched in their colours, how many
spans, how long, and whether anything failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text

from lcdev.cli.views.style import (
    ERROR_STYLE,
    SHORT_ID,
    clock,
    duration,
    service_style,
    short_id,
)

if TYPE_CHECKING:
    from lcdev.telemetry.store import TraceSummary

__all__ = ["services_text", "trace_table"]


def services_text(names: Sequence[str], width: int) -> Text:
    """The services in their colours, as many as fit in ``width``, then ``+N`` for the rest."""
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, name in enumerate(names):
        rest = len(names) - index - 1
        room = width - len(text.plain) - (1 if index else 0) - (len(f" +{rest}") if rest else 0)
        if len(name) > room and index:
            text.append(f" +{len(names) - index}", style="dim")
            break
        text.append(" " if index else "")
        text.append(name, style=service_style(name))
    return text


_FIXED_WIDTH = SHORT_ID + 5 + 8 + 6 + 2 * 5  # id, spans, duration, status, gaps between
_TIME_WIDTH = 12 + 2
_MIN_ROOT = 12
_MIN_SERVICES = 16
_NARROW = 90  # below this the start time is left out


def trace_table(traces: Sequence[TraceSummary], width: int) -> Table:
    """The table for a terminal ``width`` wide. When it is narrow the start time is left out;
    the root's name and the services share what is left, the services shortened to
    ``gateway orders +3`` rather than cut mid-name."""
    with_time = width >= _NARROW
    available = width - _FIXED_WIDTH - (_TIME_WIDTH if with_time else 0)
    longest_root = max([len(trace.root_name) for trace in traces] + [len("ROOT")])
    longest_services = max([len(" ".join(trace.services)) for trace in traces]
                           + [len("SERVICES")])
    services = min(longest_services, max(_MIN_SERVICES, available // 2))
    root = max(_MIN_ROOT, min(longest_root, available - services))
    services = max(services, min(longest_services, available - root))
    table = Table(box=None, pad_edge=False, header_style="bold")
    if with_time:
        table.add_column("TIME", no_wrap=True, style="dim")
    table.add_column("TRACE", no_wrap=True)
    table.add_column("ROOT", overflow="ellipsis", no_wrap=True, max_width=root)
    table.add_column("SERVICES", overflow="ellipsis", no_wrap=True, max_width=services)
    table.add_column("SPANS", justify="right", no_wrap=True)
    table.add_column("DURATION", justify="right", no_wrap=True)
    table.add_column("STATUS", no_wrap=True)
    for trace in traces:
        table.add_row(
            *([clock(trace.start_ns)] if with_time else []),
            short_id(trace.trace_id),
            trace.root_name,
            services_text(trace.services, services),
            str(trace.span_count),
            duration(trace.duration_ns),
            _status(trace),
        )
    return table


def _status(trace: TraceSummary) -> Text:
    """``ok``/``ERROR``, with the HTTP status of a request (a 4xx is not an error, but a user
    looking for the request that got a 401 wants to see it)."""
    code = f" {trace.root_status}" if trace.root_status else ""
    if trace.error:
        return Text(f"ERROR{code}", style=ERROR_STYLE)
    if trace.root_status >= 400:
        return Text(f"ok{code}", style="yellow")
    return Text(f"ok{code}", style="green")

