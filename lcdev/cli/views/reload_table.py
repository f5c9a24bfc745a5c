"""The reload history as a table, and the words both it and ``lcdev up``'s output use.

One row per reload, oldest first (the newest is next to the prompt): the local time, the
service, the outcome (green when a new version serves, red when the reload did not happen),
the versions, how long it took from the save to serving, and what changed — or, for a reload
that did not happen, its first problem. Below it, the latency of the reloads shown.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from lcdev.cli.views.style import ERROR_STYLE, service_style
from lcdev.core.events import Event, ReloadFailed, ServiceReloaded, WorkspaceReloaded

__all__ = [
    "WORKSPACE",
    "first_items",
    "latency_summary",
    "needs_up_sentence",
    "outcome",
    "outcome_style",
    "reload_table",
    "reloads_view",
    "service_of",
    "took",
    "versions",
]

WORKSPACE = "workspace"  # the name lcdev.yaml's reloads go by (ReloadFailed's convention)

_OUTCOMES = {"swapped": "reloaded", "restarted": "restarted", "started": "started",
             "stopped": "stopped"}
_GOOD = frozenset({"reloaded", "restarted", "started", "stopped", "applied"})
_TIMED = frozenset({"swapped", "restarted"})  # what the latency figures are about
_SEP = ", "


def service_of(event: Event) -> str:
    """The service a history entry is about; ``workspace`` for lcdev.yaml."""
    return event.name if isinstance(event, ServiceReloaded | ReloadFailed) else WORKSPACE


def outcome(event: Event) -> str:
    """One word: ``reloaded``/``restarted``/``started``/``stopped``/``applied`` when the change
    is live, ``needs up`` when part of lcdev.yaml waits for ``lcdev up``, else the reason the
    reload did not happen (``invalid``, ``destructive``, ``failed``)."""
    if isinstance(event, ServiceReloaded):
        return _OUTCOMES.get(event.how, event.how)
    if isinstance(event, ReloadFailed):
        return event.reason or "failed"
    if isinstance(event, WorkspaceReloaded):
        return "needs up" if event.needs_up else "applied"
    return type(event).__name__


def outcome_style(word: str) -> str:
    if word in _GOOD:
        return "green"
    return "yellow" if word == "needs up" else ERROR_STYLE


def versions(event: Event) -> str:
    """``1.0.0 → 1.1.0``; one version when it did not change (or the service only started or
    stopped); empty when unknown."""
    if not isinstance(event, ServiceReloaded):
        return ""
    before, after = event.version_before, event.version_after
    if before and after and before != after:
        return f"{before} → {after}"
    return after or before


def took(event: Event) -> str:
    """From the save to the new version serving (``42 ms``, ``4.2 ms``, ``1.24 s``), or ``-``
    for a reload that did not happen."""
    seconds = event.seconds if isinstance(event, ServiceReloaded | WorkspaceReloaded) else 0.0
    if seconds <= 0:
        return "-"
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.1f} ms"
    return f"{ms:.0f} ms" if ms < 1000 else f"{seconds:.2f} s"


def needs_up_sentence(setting: str) -> str:
    """A ``WorkspaceReloaded.needs_up`` entry as a sentence that says it needs ``lcdev up``
    (the supervisor's entries already do; a bare setting name gets it added)."""
    return setting if "lcdev up" in setting else f"{setting} needs `lcdev up` again"


def first_items(items: Sequence[str], width: int) -> str:
    """As many of ``items`` as fit in ``width``, then ``+N more``; the first one is shortened
    with an ellipsis rather than lose the count."""
    shown: list[str] = []
    for index, item in enumerate(items):
        rest = len(items) - index - 1
        tail = f"{_SEP}+{rest} more" if rest else ""
        if len(_SEP.join([*shown, item]) + tail) > width:
            if shown:
                return _SEP.join(shown) + f"{_SEP}+{len(items) - index} more"
            item = item[:max(1, width - len(tail) - 1)] + "…"
        shown.append(item)
    return _SEP.join(shown)


def _what(event: Event, width: int) -> Text:
    if isinstance(event, ReloadFailed):
        first = event.problems[0] if event.problems else event.message
        more = f" (+{len(event.problems) - 1} more)" if len(event.problems) > 1 else ""
        if more and len(first) + len(more) > width:  # the count matters more than the tail
            first = first[:max(1, width - len(more) - 1)] + "…"
        return Text(first + more, style=ERROR_STYLE)
    if isinstance(event, WorkspaceReloaded):
        text = Text(first_items(event.applied, width))
        if event.needs_up:
            text.append("; " if event.applied else "")
            room = max(1, width - len(text.plain))
            text.append(first_items([needs_up_sentence(s) for s in event.needs_up], room),
                        style="yellow")
        return text
    if isinstance(event, ServiceReloaded):
        if event.changes:
            return Text(first_items(event.changes, width))
        if event.paths:  # e.g. a module imported again, a code service's source
            return Text(first_items(event.paths, width), style="dim")
        return Text("no change" if event.how in _TIMED else "", style="dim")  # `lcdev apply`
    return Text("")


_TIME = 8
_GAP = 2  # between two columns
_MIN_WHAT = 24  # below this the versions make room
_LEAST_WHAT = 12
_WHAT_LINES = 3


def reload_table(events: Sequence[Event], width: int) -> Table:
    """The history for a terminal ``width`` wide; what changed gets the room that is left.
    When that is too little, the versions are left out (``--json`` has them)."""
    def widest(values: list[str], header: str) -> int:
        return max([len(value) for value in values] + [len(header)])

    services = widest([service_of(e) for e in events], "SERVICE")
    outcomes = widest([outcome(e) for e in events], "OUTCOME")
    version = widest([versions(e) for e in events], "VERSION")
    durations = widest([took(e) for e in events], "TOOK")
    what_width = width - (_TIME + services + outcomes + durations + 4 * _GAP)
    with_versions = what_width - version - _GAP >= _MIN_WHAT
    if with_versions:
        what_width -= version + _GAP
    what_width = max(_LEAST_WHAT, what_width)
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("TIME", no_wrap=True, style="dim")
    table.add_column("SERVICE", no_wrap=True)
    table.add_column("OUTCOME", no_wrap=True)
    if with_versions:
        table.add_column("VERSION", no_wrap=True)
    table.add_column("TOOK", no_wrap=True, justify="right")
    # what changed wraps onto up to three lines rather than be cut to a word on a narrow
    # terminal (--json has it all)
    table.add_column("WHAT CHANGED", overflow="fold", max_width=what_width)
    for event in events:
        service, word = service_of(event), outcome(event)
        table.add_row(
            time.strftime("%H:%M:%S", time.localtime(event.at)),
            Text(service, style="bold" if service == WORKSPACE else service_style(service)),
            Text(word, style=outcome_style(word)),
            *([versions(event)] if with_versions else []),
            took(event),
            _what(event, what_width * _WHAT_LINES),
        )
    return table


def _percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest rank: a value that was measured, never an interpolation between two."""
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def latency_summary(events: Sequence[Event]) -> Text | None:
    """``p50 42 ms, p95 88 ms over 12 reloads, 2 failed``: save-to-serving latency of the
    services swapped or restarted among ``events`` (a service started or stopped is not a
    reload of it, and a failed reload served nothing). None when there is nothing to say."""
    timed = sorted(e.seconds for e in events
                   if isinstance(e, ServiceReloaded) and e.how in _TIMED and e.seconds > 0)
    failed = sum(isinstance(e, ReloadFailed) for e in events)
    parts: list[str] = []
    if timed:
        p50, p95 = (took(ServiceReloaded(name="", seconds=_percentile(timed, p)))
                    for p in (50, 95))
        parts.append(f"p50 {p50}, p95 {p95} over {len(timed)} "
                     f"reload{'s' if len(timed) != 1 else ''}")
    if failed:
        parts.append(f"{failed} failed")
    return Text(", ".join(parts), style="dim") if parts else None


def reloads_view(events: Sequence[Event], width: int) -> Group:
    """The table and, below it, the latency summary."""
    summary = latency_summary(events)
    return Group(reload_table(events, width), *([Text(""), summary] if summary else []))
