"""The spans of one trace as a tree in display order, with the guides that draw it.

Children follow their parent, ordered by start time. A span whose parent is missing (not
exported yet, or lost) is shown at the top level rather than hidden, and malformed data (a span
that is its own ancestor) cannot loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from lcdev.telemetry.records import SpanRecord

__all__ = ["SpanRow", "span_rows"]


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One span in display order: its depth, the guide drawn before its name (``├ ``,
    ``│ └ ``) and the guide for the lines shown under it (attributes, logs)."""

    span: SpanRecord
    depth: int
    guide: str
    inner_guide: str


def _order(span: SpanRecord) -> tuple[int, str]:
    return span.start_ns, span.span_id


def span_rows(spans: Sequence[SpanRecord]) -> list[SpanRow]:
    """Depth-first, children by start time; top-level spans (roots and orphans) by start."""
    known = {span.span_id for span in spans}
    children: dict[str, list[SpanRecord]] = defaultdict(list)
    tops: list[SpanRecord] = []
    for span in spans:
        parent = span.parent_span_id
        if parent and parent in known and parent != span.span_id:
            children[parent].append(span)
        else:
            tops.append(span)
    rows: list[SpanRow] = []
    seen: set[str] = set()
    _walk(tops, children, rows, seen)
    while unseen := [span for span in spans if span.span_id not in seen]:
        _walk([min(unseen, key=_order)], children, rows, seen)  # parents that form a loop
    return rows


def _walk(tops: list[SpanRecord], children: dict[str, list[SpanRecord]],
          rows: list[SpanRow], seen: set[str]) -> None:
    # (span, depth, guide, prefix its children's guides start with); a stack, not recursion
    stack: list[tuple[SpanRecord, int, str, str]] = [
        (span, 0, "", "") for span in sorted(tops, key=_order, reverse=True)
    ]
    while stack:
        span, depth, guide, prefix = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        kids = [kid for kid in sorted(children.get(span.span_id, ()), key=_order)
                if kid.span_id not in seen]
        rows.append(SpanRow(span, depth, guide, prefix + ("│ " if kids else "  ")))
        for index in range(len(kids) - 1, -1, -1):
            last = index == len(kids) - 1
            stack.append((kids[index], depth + 1, prefix + ("└ " if last else "├ "),
                          prefix + ("  " if last else "│ ")))
