"""One trace as a waterfall: the span tree beside bars on a shared time axis.

::

    SPAN                                   SERVICE      START DURATION  0           282.1 ms
    POST /orders                           gateway       0 µs  12.8 ms  ▉
    └ POST /orders/orders                  orders     2.60 ms  9.51 ms  ▊
      ├ INSERT order                       orders     3.50 ms  1.12 ms  ▎
      └ outbox orders.OrderPlaced.v1       orders     7.05 ms  1.18 ms  ▎
        └ publish orders.OrderPlaced.v1    orders     22.7 ms  6.85 ms   ▋
          └ process orders.OrderPlaced.v1  inventory  52.9 ms  23.4 ms     █▋

Offsets and durations are relative to the trace's first span; bars use eighth blocks so short
spans stay visible. Error spans are red with their exception under them; ``show_attrs`` lists
each span's attributes and ``show_logs`` puts the trace's log lines under the span that wrote
them (lines without a known span go under the first root). Every line is cut to the width, so
the tree never wraps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.console import Group
from rich.text import Text

from lcdev.cli.views.span_tree import SpanRow, span_rows
from lcdev.cli.views.style import (
    ERROR_STYLE,
    clock,
    duration,
    level_label,
    level_style,
    service_style,
)
from lcdev.telemetry.records import LogRecord, SpanRecord

__all__ = ["bar", "exception_text", "waterfall"]

_EIGHTHS = " ▏▎▍▌▋▊▉"
_TIME_WIDTH = 8  # "850 µs", "42.1 ms", "1.24 s"
_MIN_BAR = 10
_BAR_SHARE = 0.2  # the bars get at least a fifth of the width; names (deep trees) the rest


def bar(start_ns: int, end_ns: int, origin_ns: int, total_ns: int, width: int) -> str:
    """``width`` cells with a block from start to end on a 0..total axis, in eighths of a
    cell; a span too short to see still gets one eighth."""
    total = max(total_ns, 1)
    first = min(width * 8 - 1, max(0, (start_ns - origin_ns) * width * 8 // total))
    last = min(width * 8, round((end_ns - origin_ns) * width * 8 / total))
    cell = first // 8  # blocks are left-aligned: the bar starts at its cell's left edge
    length = max(1, last - first)
    blocks = "█" * (length // 8) + (_EIGHTHS[length % 8] if length % 8 else "")
    return (" " * cell + blocks).ljust(width)


def exception_text(span: SpanRecord) -> str:
    """``ValueError: card declined`` from the span's exception event, else its status message."""
    for event in span.events:
        if event.name == "exception":
            kind = str(event.attributes.get("exception.type", "") or "")
            message = str(event.attributes.get("exception.message", "") or "")
            text = f"{kind}: {message}" if kind and message else kind or message
            if text:
                return text
    return span.status_message or "error"


def _cut(text: str, width: int) -> str:
    text = text.split("\n", 1)[0] + ("…" if "\n" in text else "")
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class _Columns:
    """Column widths for a terminal ``width`` wide."""

    def __init__(self, rows: Sequence[SpanRow], width: int) -> None:
        self.width = width
        longest_service = max((len(row.span.service) for row in rows), default=7)
        self.service = min(max(longest_service, 7), 14)
        longest_name = max((len(row.guide) + len(row.span.name) for row in rows), default=4)
        # gaps: two spaces after the name and after the duration, one after service and start
        fixed = self.service + 2 * _TIME_WIDTH + 6
        bar = max(_MIN_BAR, int(width * _BAR_SHARE))
        self.name = max(12, min(longest_name, width - fixed - bar))
        self.bar = max(_MIN_BAR, width - fixed - self.name)


def waterfall(spans: Sequence[SpanRecord], logs: Sequence[LogRecord], width: int,
              *, show_attrs: bool = False, show_logs: bool = True) -> Group:
    """The whole trace view: a two-line summary, then one line per span (and its details)."""
    rows = span_rows(spans)
    times = [s.start_ns for s in spans] or [log.time_ns for log in logs] or [0]
    origin = min(times)
    total = max([s.end_ns for s in spans] or [origin]) - origin
    lines = _summary(rows, logs, origin, total, width)
    logs_by_span = _logs_by_span(rows, logs) if show_logs else {}
    if not rows:
        lines.append(Text("no spans stored for this trace (only log lines)", style="dim"))
        lines.extend(_log_line(log, "", origin, width) for log in logs if show_logs)
        return Group(*lines)
    columns = _Columns(rows, width)
    lines.append(_heading(columns, total))
    for row in rows:
        lines.append(_span_line(row, columns, origin, total))
        if row.span.status == "error":
            lines.append(_detail(row.inner_guide, "✗ " + exception_text(row.span), width,
                                 "red"))
        if show_attrs:
            lines.extend(_attributes(row, origin, width))
        lines.extend(_log_line(log, row.inner_guide, origin, width)
                     for log in logs_by_span.get(row.span.span_id, ()))
    return Group(*lines)


def _summary(rows: Sequence[SpanRow], logs: Sequence[LogRecord], origin: int, total: int,
             width: int) -> list[Text]:
    spans = [row.span for row in rows]
    trace_id = spans[0].trace_id if spans else (logs[0].trace_id if logs else "")
    title = Text(no_wrap=True, overflow="ellipsis")
    title.append(rows[0].span.name if rows else "(no spans)", style="bold")
    title.append(f"  trace {trace_id}", style="dim")
    facts = Text(no_wrap=True, overflow="ellipsis")
    errors = sum(span.status == "error" for span in spans)
    facts.append(f"{clock(origin, with_date=True)} · {duration(total)} · ")
    facts.append(f"{errors} error" + ("s" if errors > 1 else "") if errors else "ok",
                 style=ERROR_STYLE if errors else "green")
    facts.append(f" · {len(spans)} spans · ")
    for index, service in enumerate(sorted({span.service for span in spans})):
        facts.append(", " if index else "")
        facts.append(service, style=service_style(service))
    return [title, facts, Text("")]


def _logs_by_span(rows: Sequence[SpanRow], logs: Sequence[LogRecord]
                  ) -> dict[str, list[LogRecord]]:
    known = {row.span.span_id for row in rows}
    fallback = rows[0].span.span_id if rows else ""
    grouped: dict[str, list[LogRecord]] = defaultdict(list)
    for log in sorted(logs, key=lambda item: (item.time_ns, item.id)):
        grouped[log.span_id if log.span_id in known else fallback].append(log)
    return grouped


def _heading(columns: _Columns, total: int) -> Text:
    scale = "0".ljust(columns.bar - _TIME_WIDTH) + duration(total).rjust(_TIME_WIDTH)
    return Text(
        f"{'SPAN'.ljust(columns.name)}  {'SERVICE'.ljust(columns.service)} "
        f"{'START'.rjust(_TIME_WIDTH)} {'DURATION'.rjust(_TIME_WIDTH)}  {scale}",
        style="bold", no_wrap=True, overflow="crop",
    )


def _span_line(row: SpanRow, columns: _Columns, origin: int, total: int) -> Text:
    span = row.span
    failed = span.status == "error"
    colour = service_style(span.service)
    line = Text(no_wrap=True, overflow="crop")
    name = _cut(row.guide + span.name, columns.name)
    line.append(row.guide, style="dim")
    line.append(name[len(row.guide):].ljust(columns.name - len(row.guide)),
                style=ERROR_STYLE if failed else "")
    line.append("  ")
    service = _cut(span.service, columns.service)
    line.append(service, style=colour)
    line.append(" " * (columns.service - len(service) + 1))
    line.append(duration(span.start_ns - origin).rjust(_TIME_WIDTH), style="dim")
    line.append(" ")
    line.append(duration(span.duration_ns).rjust(_TIME_WIDTH))
    line.append("  ")
    line.append(bar(span.start_ns, span.end_ns, origin, total, columns.bar).rstrip(),
                style="red" if failed else colour)
    return line


def _detail(guide: str, text: str, width: int, style: str) -> Text:
    line = Text(no_wrap=True, overflow="crop")
    line.append(guide, style="dim")
    line.append(_cut(text, width - len(guide)), style=style)
    return line


def _attributes(row: SpanRow, origin: int, width: int) -> list[Text]:
    span = row.span
    items = [("kind", span.kind), ("span_id", span.span_id)]
    if span.status != "unset":
        items.append(("status", f"{span.status} {span.status_message}".strip()))
    items += sorted((key, str(value)) for key, value in span.attributes.items())
    lines = []
    for key, value in items:
        line = Text(no_wrap=True, overflow="crop")
        line.append(row.inner_guide, style="dim")
        line.append(f"{key} = ", style="dim")
        line.append(_cut(value, max(1, width - len(line.plain))), style="")
        lines.append(line)
    for event in span.events:
        described = ", ".join(f"{key}={value}" for key, value in event.attributes.items()
                              if key != "exception.stacktrace")
        lines.append(_detail(row.inner_guide, f"@{duration(event.time_ns - origin)} "
                             f"{event.name} {described}", width, "italic"))
        trace = str(event.attributes.get("exception.stacktrace", "") or "")
        lines.extend(_detail(row.inner_guide + "  ", text, width, "dim red")
                     for text in trace.splitlines())
    return lines


def _log_line(log: LogRecord, guide: str, origin: int, width: int) -> Text:
    line = Text(no_wrap=True, overflow="crop")
    line.append(guide, style="dim")
    line.append(f"@{duration(log.time_ns - origin)}".ljust(_TIME_WIDTH + 2), style="dim")
    line.append(level_label(log.level), style=level_style(log.level))
    line.append(" ")
    line.append(_cut(log.message, max(1, width - len(line.plain))),
                style="red" if log.level in ("error", "fatal") else "")
    return line
