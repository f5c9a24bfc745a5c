"""The terminal report of ``lcdev test``: a line per check, then what to do about each failure.

For every check asked for, a summary line (✓ when all passed, ✗ when a contract failed, ! when
something could not be checked). Below it, each failure or error: what failed and where, the
curl command reproducing it, the ``lcdev trace`` command showing the failing request, and the
hint. Last, one line with the totals and the wall time, the line CI logs end with.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from lcdev.cli.views.style import ERROR_STYLE
from lcdev.contracts.findings import CHECKS, Check, Finding

__all__ = ["contract_report", "summary_line"]

_TITLES = {"api": "API contracts", "events": "event contracts", "breaking": "breaking changes"}


def _count(findings: list[Finding], outcome: str) -> int:
    return sum(f.outcome == outcome for f in findings)


def summary_line(findings: list[Finding], seconds: float) -> str:
    """``N checks passed, M failed, K could not run in X s``."""
    passed, failed, error = (_count(findings, o) for o in ("passed", "failed", "error"))
    skipped = _count(findings, "skipped")
    tail = f", {skipped} skipped" if skipped else ""
    return (f"{passed} checks passed, {failed} failed, {error} could not run{tail} "
            f"in {seconds:.1f} s")


def _check_line(check: Check, mine: list[Finding], took: float) -> Text:
    failed, error = _count(mine, "failed"), _count(mine, "error")
    mark, style = ("✗", ERROR_STYLE) if failed else ("!", "yellow") if error else ("✓", "green")
    parts = [f"{_count(mine, 'passed')} passed"]
    parts += [f"{failed} failed"] if failed else []
    parts += [f"{error} could not run"] if error else []
    skipped = _count(mine, "skipped")
    parts += [f"{skipped} skipped"] if skipped else []
    line = Text.assemble((f"{mark} ", style), (f"{_TITLES[check]:<17}", "bold"),
                         ", ".join(parts))
    if took >= 0.05:
        line.append(f"  {took:.1f} s", "dim")
    return line


def _finding_block(finding: Finding, store: str | None) -> list[RenderableType]:
    style = ERROR_STYLE if finding.outcome == "failed" else "yellow"
    label = "failed" if finding.outcome == "failed" else "could not run"
    lines: list[RenderableType] = [
        Text.assemble(("  ✗ " if finding.outcome == "failed" else "  ! ", style),
                      (finding.name, "bold"), (f" — {label}", style))]
    for line in finding.message.splitlines() or [""]:
        lines.append(Text(f"      {line}"))
    rows = [("at", finding.where), ("reproduce", finding.reproduce),
            ("trace", (f"lcdev trace {finding.trace_id}" + (f" --store {store}" if store else ""))
             if finding.trace_id else ""),
            ("hint", finding.hint)]
    seed = finding.details.get("seed")
    if seed is not None:
        rows.append(("seed", f"{seed} (lcdev test --seed {seed} reproduces it)"))
    for key, value in rows:
        if value:
            lines.append(Text.from_markup(f"      [dim]{key}:[/] {escape(value)}"))
    return lines


def contract_report(findings: list[Finding], asked: tuple[Check, ...], seconds: float, *,
                    check_seconds: dict[str, float] | None = None,
                    stack: tuple[float, float] | None = None,
                    telemetry_store: str | None = None) -> Group:
    """The whole report, checks in a fixed order (api, events, breaking). ``check_seconds``:
    the wall time of each check; ``stack``: how long the ephemeral stack took to start and to
    stop (seconds), shown under the checks."""
    parts: list[RenderableType] = []
    for check in [c for c in CHECKS if c in asked or any(f.check == c for f in findings)]:
        mine = [f for f in findings if f.check == check]
        parts.append(_check_line(check, mine, (check_seconds or {}).get(check, 0.0)))
        for finding in mine:
            if finding.outcome in ("failed", "error"):
                parts += _finding_block(finding, telemetry_store)
    failed = any(f.outcome in ("failed", "error") for f in findings)
    parts.append(Text(""))
    if stack is not None:
        parts.append(Text(f"ephemeral stack: up in {stack[0]:.1f} s, down in {stack[1]:.1f} s",
                          style="dim"))
        if telemetry_store is not None:
            parts.append(Text(f"traces and logs of this run: {telemetry_store}", style="dim"))
        if any(f.reproduce and f.outcome == "failed" for f in findings):
            kept = (f"its traces are kept in {telemetry_store} (`lcdev trace ID --store "
                    f"{telemetry_store}`)" if telemetry_store else "its traces went with it")
            parts.append(Text(
                f"the ephemeral stack is gone; {kept}; to replay a failure, `lcdev up` then "
                "`lcdev test --running --seed N`", style="dim"))
    parts.append(Text(summary_line(findings, seconds),
                      style=ERROR_STYLE if failed else "bold green"))
    return Group(*parts)
