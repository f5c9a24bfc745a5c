"""What every contract check reports: one ``Finding`` per thing checked, passed or not.

The three checks (``api``, ``events``, ``breaking``) produce findings; the report (terminal,
JUnit, JSON, GitHub annotations) and the exit code are computed from them alone, so a check
that could not run says so as a finding with ``outcome="error"`` rather than by raising, and
"nothing was checked" is visible (no findings of a check that was asked for).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["CHECKS", "Check", "Finding", "Outcome", "exit_code"]

Check = Literal["api", "events", "breaking"]
CHECKS: tuple[Check, ...] = ("api", "events", "breaking")
Outcome = Literal["passed", "failed", "error", "skipped"]
"""``failed``: the contract is broken (exit 1). ``error``: it could not be checked (exit 2).
``skipped``: deliberately not checked, with the reason in ``message`` (e.g. no consumers)."""

EXIT_PASSED, EXIT_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2


@dataclass(frozen=True)
class Finding:
    """One checked thing and its outcome.

    ``name`` identifies the case stably across runs (JUnit test name), e.g.
    ``orders: POST /orders/orders`` or ``payments.PaymentProcessed -> orders``.
    ``where`` points at the source when there is one: ``services/orders/service.yaml:12:5``
    (relative to the workspace root) or an operation (``POST /orders/orders``).
    ``reproduce`` is a command that shows the failure again (a curl command line);
    ``trace_id`` the trace of the failing request (``lcdev trace <id>``); ``hint`` how to fix
    or make the change compatible."""

    check: Check
    name: str
    outcome: Outcome
    service: str = ""
    message: str = ""
    where: str = ""
    reproduce: str = ""
    trace_id: str = ""
    hint: str = ""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def exit_code(findings: list[Finding], asked: tuple[Check, ...]) -> int:
    """0 when every finding passed (or was skipped) and each check asked for checked at least
    one thing; 2 when anything could not be checked or a check asked for checked nothing;
    else 1 when a contract failed. Never 0 when nothing was checked."""
    if any(f.outcome == "error" for f in findings):
        return EXIT_COULD_NOT_RUN
    for check in asked:
        if not any(f.check == check and f.outcome in ("passed", "failed") for f in findings):
            return EXIT_COULD_NOT_RUN
    if any(f.outcome == "failed" for f in findings):
        return EXIT_FAILED
    return EXIT_PASSED
