"""Running the contract checks asked for and collecting their findings, with timings.

Static checks (breaking changes, event compatibility) run first, without a stack; the checks
that need one (API, events at run time) share one stack. Whatever goes wrong becomes a
finding: a check module that is missing, a check that raises, a stack that does not start,
a check asked for that checked nothing. So the exit code (``findings.exit_code``) and every
report are computed from the findings alone and never say "passed" when nothing was checked.

The one thing that is not a finding is the user's Ctrl-C: ``KeyboardInterrupt`` goes through
(the stack is torn down on its way out). A check may swallow it (schemathesis' engine turns it
into an "interrupted" event and returns), so ``interrupted`` — the caller knows whether Ctrl-C
was pressed — is asked after each check, and raises it again then.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lcdev.contracts.findings import Check, Finding, exit_code
from lcdev.contracts.stack import ContractTarget, StackNotAvailable, StackTimings
from lcdev.definitions import LoadedWorkspace

__all__ = ["CheckRunners", "ContractRun", "RunOptions", "checks_asked", "run_contract_checks"]

TargetFactory = Callable[[StackTimings], AbstractContextManager[ContractTarget]]
Progress = Callable[[str], None]
Interrupted = Callable[[], bool]


@dataclass(frozen=True)
class RunOptions:
    """What ``lcdev test`` was asked to check, and how hard."""

    asked: tuple[Check, ...] = ("api", "events")
    services: tuple[str, ...] = ()        # empty: every service
    against: str | None = None            # git ref for the breaking-change check
    seed: int | None = None
    max_examples: int = 25
    per_operation: dict[str, int] = field(default_factory=dict)
    stateful: bool = True
    event_count: int = 5


def checks_asked(only: tuple[Check, ...], against: str | None,
                 loaded: LoadedWorkspace | None = None) -> tuple[Check, ...]:
    """``--only`` when given (each must then check something); else API and events, plus
    breaking changes with ``--against``. Knowing the workspace (``loaded``), the default
    leaves out what it has nothing for: events when no service consumes one, the API when
    there is no low-code service. With nothing left, the API check is asked for anyway, so a
    run that could check nothing exits 2, never 0."""
    if only:
        return only
    asked: list[Check] = ["api", "events"]
    if loaded is not None:
        services = loaded.services.values()
        if not any(s.kind == "lowcode" for s in services):
            asked.remove("api")
        if not any(s.consumes for s in services):
            asked.remove("events")
    if against:
        asked.append("breaking")
    return tuple(asked) or ("api",)


def _api(target: ContractTarget, options: RunOptions) -> Any:
    from lcdev.contracts.api import run_api_checks

    return run_api_checks(
        target, services=list(options.services) or None, seed=options.seed,
        max_examples=options.max_examples, per_operation=dict(options.per_operation),
        stateful=options.stateful)


def _event_compatibility(loaded: LoadedWorkspace) -> Any:
    from lcdev.contracts.events import check_event_compatibility

    return check_event_compatibility(loaded)


def _event_runtime(target: ContractTarget, options: RunOptions) -> Any:
    from lcdev.contracts.events import run_event_checks

    return run_event_checks(target, seed=options.seed, count=options.event_count)


def _breaking(root: Path, ref: str) -> Any:
    from lcdev.contracts.breaking import compare_with_ref

    return compare_with_ref(root, ref)


@dataclass(frozen=True)
class CheckRunners:
    """The functions behind each check (the real modules by default). Tests may pass other
    real implementations, e.g. a check that raises, to see what the run does with it."""

    api: Callable[[ContractTarget, RunOptions], Any] = _api
    event_compatibility: Callable[[LoadedWorkspace], Any] = _event_compatibility
    event_runtime: Callable[[ContractTarget, RunOptions], Any] = _event_runtime
    breaking: Callable[[Path, str], Any] = _breaking


@dataclass
class ContractRun:
    """The outcome of one ``lcdev test``: findings, what was asked, and where time went."""

    asked: tuple[Check, ...]
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    check_seconds: dict[str, float] = field(default_factory=dict)
    stack: StackTimings = field(default_factory=StackTimings)
    interrupted: Interrupted = field(default=lambda: False, repr=False, compare=False)
    """Whether the user pressed Ctrl-C (asked after each check)."""

    @property
    def exit_code(self) -> int:
        return exit_code(self.findings, self.asked)

    def to_dict(self) -> dict[str, Any]:
        counts = {outcome: sum(f.outcome == outcome for f in self.findings)
                  for outcome in ("passed", "failed", "error", "skipped")}
        return {
            "exit_code": self.exit_code, "asked": list(self.asked),
            "seconds": round(self.seconds, 3), "counts": counts,
            "timings": {**{k: round(v, 3) for k, v in self.check_seconds.items()},
                        "stack_up": round(self.stack.up, 3),
                        "stack_down": round(self.stack.down, 3)},
            "telemetry_store": str(self.stack.telemetry) if self.stack.telemetry else None,
            "findings": [f.to_dict() for f in self.findings],
        }


def run_contract_checks(
    root: Path, loaded: LoadedWorkspace, options: RunOptions, target: TargetFactory, *,
    runners: CheckRunners | None = None, progress: Progress | None = None,
    interrupted: Interrupted | None = None,
) -> ContractRun:
    """Run every check in ``options.asked`` on the workspace at ``root`` (definitions already
    valid); ``target`` opens the stack the API and runtime event checks need. Raises
    ``KeyboardInterrupt`` on Ctrl-C, also when a check swallowed it and ``interrupted()``
    says it happened."""
    runners = runners or CheckRunners()
    say = progress or (lambda _message: None)
    run = ContractRun(asked=options.asked, interrupted=interrupted or (lambda: False))
    started = time.monotonic()
    asked = options.asked
    if "breaking" in asked:
        say(f"comparing with {options.against}")
        _collect(run, "breaking", lambda: runners.breaking(root, options.against or "HEAD"))
    if "events" in asked:
        say("checking event compatibility")
        _collect(run, "events", lambda: runners.event_compatibility(loaded))
    needs_stack: list[Check] = [c for c in ("api", "events") if c in asked]
    if needs_stack:
        _run_on_stack(run, options, target, runners, say, needs_stack)
    run.findings = _only_services(run.findings, options.services)
    run.findings += list(_nothing_checked(run.findings, asked))
    run.seconds = time.monotonic() - started
    return run


def _run_on_stack(run: ContractRun, options: RunOptions, target: TargetFactory,
                  runners: CheckRunners, say: Progress, checks: list[Check]) -> None:
    try:
        with target(run.stack) as opened:
            if "api" in checks:
                say("checking API contracts (schemathesis)")
                _collect(run, "api", lambda: runners.api(opened, options))
            if "events" in checks:
                say("publishing events to every consumer")
                _collect(run, "events", lambda: runners.event_runtime(opened, options))
    except StackNotAvailable as exc:
        text = f"{exc}\n{exc.output}".strip()
        run.findings += [Finding(check=check, name=f"{check}: stack", outcome="error",
                                 message=text, hint=exc.hint) for check in checks]


def _collect(run: ContractRun, check: Check, call: Callable[[], Any]) -> None:
    """Run one check; add its findings, or an ``error`` finding when it could not run."""
    started = time.monotonic()
    try:
        found = _resolved(call())
    except (ImportError, AttributeError) as exc:
        found = [Finding(check=check, name=f"{check}: available", outcome="error",
                         message=f"the {check} check is not available: {exc}")]
    except Exception as exc:  # a crash of a check is reported, never lost or passed
        found = [Finding(check=check, name=f"{check}: crashed", outcome="error",
                         message=f"the {check} check crashed: {type(exc).__name__}: {exc}",
                         hint="this is a bug in lcdev; please report it with this message")]
    elapsed = time.monotonic() - started
    run.check_seconds[check] = run.check_seconds.get(check, 0.0) + elapsed
    run.findings += list(found)
    if run.interrupted():  # the check swallowed Ctrl-C: the run stops all the same
        raise KeyboardInterrupt


def _resolved(result: Any) -> list[Finding]:
    """The findings of a check that may be a plain function or a coroutine function."""
    if inspect.isawaitable(result):
        awaitable: Awaitable[Any] = result

        async def wait() -> Any:
            return await awaitable

        result = asyncio.run(wait())
    return list(result)


def _only_services(findings: list[Finding], services: tuple[str, ...]) -> list[Finding]:
    """With SERVICES given, findings about other services are left out (findings about no
    service in particular, like a check that could not run, are kept)."""
    if not services:
        return findings
    return [f for f in findings if not f.service or f.service in services]


def _nothing_checked(findings: list[Finding], asked: tuple[Check, ...]) -> Iterator[Finding]:
    """An ``error`` finding per check asked for that checked nothing and said no why."""
    for check in asked:
        mine = [f for f in findings if f.check == check]
        if not any(f.outcome in ("passed", "failed", "error") for f in mine):
            yield Finding(check=check, name=f"{check}: nothing checked", outcome="error",
                          message=f"the {check} check found nothing to check",
                          hint="a check asked for must check something; drop it with --only")
