"""Per-route request metrics and per-topic event metrics as tables, and as JSON.

Requests come from server spans (count, errors, latency percentiles per service and route);
events from producer and consumer spans (published or consumed per topic), with the consumer
lag the runtime reports. An error rate over 5 % is yellow, over 20 % red, so a failing route
stands out in a long table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lcdev.cli.views.style import ERROR_STYLE, service_style

if TYPE_CHECKING:
    from lcdev.telemetry.store import RouteMetrics

__all__ = ["error_percent", "metrics_json", "metrics_tables", "topic"]

_EVENT_KINDS = ("producer", "consumer")


def error_percent(row: RouteMetrics) -> float:
    return 100.0 * row.errors / row.count if row.count else 0.0


def _rate(row: RouteMetrics) -> Text:
    percent = error_percent(row)
    style = ""
    if percent > 20:
        style = ERROR_STYLE
    elif percent > 5:
        style = "yellow"
    elif not percent:
        style = "dim"
    return Text(f"{percent:.1f}%", style=style)


def topic(row: RouteMetrics) -> str:
    """The topic of a producer or consumer row: its span name without the operation
    (``publish orders.order-placed``); the PUBLISHED/CONSUMED columns say which it was."""
    operation, _, rest = row.route.partition(" ")
    return rest if rest and operation in ("publish", "process", "send", "receive") else row.route


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _table(*columns: str) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        numeric = column not in ("SERVICE", "ROUTE", "TOPIC")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=numeric,
                         overflow="fold")
    return table


def _service(name: str) -> Text:
    return Text(name, style=service_style(name))


def metrics_tables(rows: Sequence[RouteMetrics]) -> RenderableType:
    """A table of HTTP routes, then one of events; an empty part is left out."""
    parts: list[RenderableType] = []
    requests = [row for row in rows if row.kind not in _EVENT_KINDS]
    if requests:
        table = _table("SERVICE", "ROUTE", "REQUESTS", "ERRORS", "ERROR %", "P50 ms", "P95 ms",
                       "P99 ms")
        for row in requests:
            table.add_row(_service(row.service), row.route, str(row.count), str(row.errors),
                          _rate(row), _ms(row.p50_ms), _ms(row.p95_ms), _ms(row.p99_ms))
        parts.append(table)
    events = [row for row in rows if row.kind in _EVENT_KINDS]
    if events:
        table = _table("SERVICE", "TOPIC", "PUBLISHED", "CONSUMED", "ERRORS", "P50 ms",
                       "P95 ms", "LAG")
        for row in events:
            published = row.kind == "producer"
            lag = row.consumer_lag
            table.add_row(
                _service(row.service), topic(row),
                str(row.count) if published else "", "" if published else str(row.count),
                Text(str(row.errors), style=ERROR_STYLE if row.errors else "dim"),
                *((_ms(row.p50_ms), _ms(row.p95_ms)) if row.count else ("-", "-")),
                Text("" if lag is None else f"{lag:.0f}", style="yellow" if lag else ""))
        if parts:
            parts.append(Text(""))
        parts.append(table)
    return Group(*parts)


def metrics_json(rows: Sequence[RouteMetrics], since_ns: int | None) -> dict[str, Any]:
    def row_json(row: RouteMetrics) -> dict[str, Any]:
        return {"service": row.service, "route": row.route, "kind": row.kind,
                "count": row.count, "errors": row.errors,
                "error_percent": round(error_percent(row), 2), "p50_ms": row.p50_ms,
                "p95_ms": row.p95_ms, "p99_ms": row.p99_ms, "consumer_lag": row.consumer_lag}

    return {
        "since_ns": since_ns,
        "routes": [row_json(row) for row in rows if row.kind not in _EVENT_KINDS],
        "events": [{**row_json(row), "topic": topic(row)} for row in rows
                   if row.kind in _EVENT_KINDS],
    }
