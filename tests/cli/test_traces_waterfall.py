"""The waterfall of one trace, rendered as text the way a 100-column terminal shows it."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console, RenderableType
from rich.text import Text

from lcdev.cli.views.span_tree import span_rows
from lcdev.cli.views.style import service_style
from lcdev.cli.views.waterfall import bar, waterfall
from tests.cli.telemetry_samples import TRACE, order_trace, sample_logs


def render(renderable: RenderableType, width: int = 100, colour: bool = False) -> str:
    console = Console(file=io.StringIO(), width=width, color_system="standard" if colour else None,
                      force_terminal=colour, legacy_windows=False)
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


def trace_logs() -> list:  # type: ignore[type-arg]
    return [log for log in sample_logs() if log.trace_id == TRACE]


def test_spans_form_a_tree_in_start_order_with_guides() -> None:
    rows = span_rows(order_trace()[::-1])  # the store's order does not matter
    assert [(row.depth, row.guide + row.span.name) for row in rows] == [
        (0, "POST /orders/orders"),
        (1, "└ POST /orders/orders"),
        (2, "  ├ INSERT orders"),
        (2, "  └ outbox orders.order-placed"),
        (3, "    └ publish orders.order-placed"),
        (4, "      └ process orders.order-placed"),
        (5, "        └ payments.charge"),
    ]


def test_orphans_and_loops_are_shown_not_lost() -> None:
    spans = order_trace()
    orphan = replace(spans[3], parent_span_id="ffffffffffffffff")  # parent never arrived
    loop_a = replace(spans[5], span_id="e1", parent_span_id="e2")
    loop_b = replace(spans[6], span_id="e2", parent_span_id="e1")
    rows = span_rows([spans[0], orphan, loop_a, loop_b])
    assert sorted(row.span.span_id for row in rows) == sorted(
        [spans[0].span_id, orphan.span_id, "e1", "e2"])
    assert [row.depth for row in rows if row.span is orphan] == [0]


def test_bars_are_placed_and_scaled_on_the_trace_axis() -> None:
    assert bar(0, 100, 0, 100, 10) == "█" * 10
    assert bar(50, 100, 0, 100, 10) == "     █████"
    assert bar(0, 25, 0, 100, 10) == "██▌       "  # 2.5 cells: eighth blocks
    assert bar(40, 40, 0, 100, 10) == "    ▏     "  # zero length stays visible
    assert bar(100, 100, 0, 100, 10) == "         ▏"  # at the very end: still inside


def test_waterfall_reads_as_a_tree_with_bars_and_details() -> None:
    text = render(waterfall(order_trace(), trace_logs(), 100))
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[0].startswith("POST /orders/orders  trace " + TRACE)
    assert lines[1].endswith("42.0 ms · 1 error · 7 spans · gateway, orders, payments")
    heading = next(i for i, line in enumerate(lines) if line.startswith("SPAN"))
    assert lines[heading].rstrip().endswith("42.0 ms")
    names = [line for line in lines[heading + 1:] if is_span_line(line)]
    assert [line.strip().split("  ")[0] for line in names] == [
        "POST /orders/orders", "└ POST /orders/orders", "├ INSERT orders",
        "└ outbox orders.order-placed", "└ publish orders.order-placed",
        "└ process orders.order-placed", "└ payments.charge"]
    root, charge = names[0], names[-1]
    assert root.rstrip().endswith("█" * 30)  # the root spans the whole axis
    axis_start = root.index("█")
    # payments.charge starts at 21 of 42 ms: its bar starts half-way along the axis
    assert abs(charge.index("█") - axis_start - (100 - axis_start) / 2) <= 1
    assert charge.split()[2:5] == ["payments", "21.0", "ms"]
    assert " ".join(charge.split()[5:7]) == "19.0 ms"
    error_line = lines[lines.index(charge) + 1]
    assert error_line.strip() == "✗ ValueError: card declined"
    assert error_line.index("✗") > charge.index("payments.charge") - 1


def test_log_lines_sit_under_the_span_that_wrote_them() -> None:
    lines = render(waterfall(order_trace(), trace_logs(), 100)).splitlines()

    def below(span_name: str) -> list[str]:
        start = next(i for i, line in enumerate(lines)
                     if f" {span_name} " in f" {line} " and is_span_line(line))
        following = []
        for line in lines[start + 1:]:
            if is_span_line(line):
                break
            following.append(" ".join(line.replace("│", " ").split()))
        return following

    assert below("payments.charge") == [
        "✗ ValueError: card declined",
        "@39.5 ms ERROR charge failed for order 42: card declined"]
    assert below("process orders.order-placed") == ["@30.0 ms WARN card check slow: 9 ms"]
    # a line whose span is unknown goes under the root, with the root's own lines
    assert below("POST /orders/orders") == ["@200 µs INFO POST /orders/orders",
                                           "@41.0 ms INFO order 42 marked unpaid"]


def test_attributes_and_stack_traces_on_request_only() -> None:
    plain = render(waterfall(order_trace(), trace_logs(), 100))
    detailed = render(waterfall(order_trace(), trace_logs(), 100, show_attrs=True))
    for text in ("db.system = postgresql", "kind = consumer", 'File "charge.py", line 3'):
        assert text not in plain
        assert text in detailed
    assert "INFO" not in render(waterfall(order_trace(), trace_logs(), 100, show_logs=False))


def test_narrow_terminals_cut_lines_instead_of_wrapping() -> None:
    text = render(waterfall(order_trace(), trace_logs(), 60), width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    assert len(text.splitlines()) == len(render(waterfall(order_trace(), trace_logs(), 100))
                                         .splitlines())


def test_error_spans_are_red_and_services_keep_their_colour() -> None:
    coloured = render(waterfall(order_trace(), trace_logs(), 100), colour=True)
    charge = next(line for line in coloured.splitlines() if "payments.charge" in line)
    assert "\x1b[1;31m" in charge  # bold red name
    for service in ("gateway", "orders", "payments"):
        coloured_name = render(Text(service, style=service_style(service)), colour=True).strip()
        rows = [line for line in coloured.splitlines()
                if is_span_line(line) and render_plain(line).split()[-6] == service]
        assert rows
        assert all(coloured_name in line for line in rows)  # one colour, on every line


def is_span_line(line: str) -> bool:
    return any(block in line for block in "▏▎▍▌▋▊▉█")


def render_plain(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def test_a_trace_known_only_from_its_logs() -> None:
    text = render(waterfall([], trace_logs(), 100))
    assert "no spans stored for this trace" in text
    assert "charge failed for order 42" in text
