"""``lcdev test``: the workspace's contract checks, with an exit code CI can trust.

Ctrl-C stops the run: the ephemeral stack is torn down (lcdev/contracts/stack.py) and the
command exits 130 (128 + SIGINT, what shells report for an interrupted command) with one line
saying so, instead of click's "Aborted!" and 1, which a CI script would read as a failed
contract.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from lcdev.cli import output
from lcdev.cli.common import EXIT_USAGE, JsonOption, WorkspaceOption, abort, resolve_root

if TYPE_CHECKING:
    from lcdev.contracts.findings import Check
    from lcdev.contracts.run import ContractRun, RunOptions
    from lcdev.definitions import LoadedWorkspace

__all__ = ["check_contracts"]

_CHECK_NAMES = ("api", "events", "breaking")
EXIT_INTERRUPTED = 130


def check_contracts(
    services: Annotated[list[str] | None, typer.Argument(
        metavar="SERVICES", show_default=False,
        help="Check only these services (default: every service).")] = None,
    running: Annotated[bool, typer.Option(
        "--running", help="Check the stack `lcdev up` already runs instead of an ephemeral "
        "copy (faster; uses and changes that stack's data).")] = False,
    backend: Annotated[str, typer.Option(
        help="Backend of the ephemeral stack: auto, native or docker.")] = "auto",
    only: Annotated[str | None, typer.Option(
        metavar="CHECKS", help="Comma-separated checks to run: api, events, breaking "
        "(default: api and events, plus breaking with --against).")] = None,
    against: Annotated[str | None, typer.Option(
        metavar="REF", help="Also report breaking changes since this git ref (a branch, tag "
        "or commit, e.g. origin/main).")] = None,
    seed: Annotated[int | None, typer.Option(
        help="Seed of the generated inputs; a report's seed reproduces its failure.")] = None,
    max_examples: Annotated[int, typer.Option(
        min=1, help="Generated requests per API operation.")] = 25,
    examples: Annotated[list[str] | None, typer.Option(
        "--examples", metavar="OPERATION=N", help="Budget for one operation, e.g. "
        "--examples 'POST /orders/orders=100' (repeatable).")] = None,
    junit: Annotated[Path | None, typer.Option(
        metavar="PATH", help="Also write a JUnit XML report there (for CI).")] = None,
    json_output: JsonOption = False,
    stateful: Annotated[bool, typer.Option(
        "--stateful/--no-stateful", help="Also run stateful API sequences (create → get → "
        "update → delete) from the OpenAPI links.")] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Check every contract: APIs against their OpenAPI documents (schemathesis, through the
    gateway), producers and consumers of every event, and with --against REF breaking changes.

    By default on an ephemeral copy of the stack (its own free ports and data, torn down
    afterwards). Exit 0 when every check passed, 1 when a contract failed, 2 when something
    could not be checked (bad definitions, a stack that does not start, an unreachable
    service) — never 0 when nothing was checked.
    """
    from lcdev.contracts.run import RunOptions, checks_asked
    from lcdev.definitions import load_workspace

    root = resolve_root(workspace)
    explicit = _parse_only(only)
    if "breaking" in explicit and not against:
        abort("the breaking check compares with a git ref", "add --against REF (e.g. "
              "--against origin/main)", EXIT_USAGE)
    loaded = load_workspace(root)
    _stop_on_bad_definitions(root, loaded, json_output)
    asked = checks_asked(explicit, against, loaded)
    chosen = tuple(services or ())
    _check_services_exist(loaded, chosen)
    options = RunOptions(asked=asked, services=chosen, against=against, seed=seed,
                         max_examples=max_examples, per_operation=_parse_examples(examples),
                         stateful=stateful)
    try:
        with _ctrl_c_noted() as interrupted:
            run = _run(root, loaded, options, running, backend, quiet=json_output,
                       interrupted=interrupted)
    except KeyboardInterrupt:
        # Decided: exit 130. A later SIGINT (a second Ctrl-C, or one a library re-raises on
        # its way out) must not turn that into death by signal (-2) after the message.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        where = "the running stack was left as it was" if running else \
            "the ephemeral stack was stopped"
        output.err.print(f"interrupted; {where}")
        # Leave now: the stack is already down, and the interpreter's own shutdown (joining
        # the checker's worker threads, which may still see the interrupt) could otherwise
        # end the process by SIGINT (-2) instead of 130.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    _report(run, root, junit, json_output)
    raise typer.Exit(run.exit_code)


def _parse_only(only: str | None) -> tuple[Check, ...]:
    if not only:
        return ()
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in _CHECK_NAMES]
    if unknown:
        abort(f"unknown check {', '.join(unknown)} in --only",
              f"choose among {', '.join(_CHECK_NAMES)}", EXIT_USAGE)
    return tuple(cast("Check", name) for name in dict.fromkeys(names))


def _parse_examples(items: list[str] | None) -> dict[str, int]:
    budgets: dict[str, int] = {}
    for item in items or []:
        operation, sep, count = item.rpartition("=")
        if not sep or not operation.strip() or not count.strip().isdigit() or int(count) < 1:
            abort(f"--examples {item!r} is not OPERATION=N",
                  "e.g. --examples 'POST /orders/orders=100'", EXIT_USAGE)
        budgets[operation.strip()] = int(count)
    return budgets


def _stop_on_bad_definitions(root: Path, loaded: LoadedWorkspace, json_output: bool) -> None:
    """Bad definitions: every problem at file:line:col, exit 2, before any stack starts."""
    if loaded.ok:
        return
    problems = [p.relative_to(root) for p in loaded.problems]
    if json_output:
        output.print_json({"exit_code": EXIT_USAGE, "asked": [], "findings": [],
                           "problems": [p.to_dict() for p in problems]})
    output.print_problems(problems)
    abort("the definitions have errors; nothing was checked",
          "fix them (`lcdev validate` lists them again)", EXIT_USAGE)


def _check_services_exist(loaded: LoadedWorkspace, chosen: tuple[str, ...]) -> None:
    from lcdev.definitions.problems import did_you_mean

    for name in chosen:
        if name not in loaded.services:
            abort(f"no service '{name}' in this workspace{did_you_mean(name, loaded.services)}",
                  f"services: {', '.join(sorted(loaded.services))}", EXIT_USAGE)


def _run(root: Path, loaded: LoadedWorkspace, options: RunOptions, running: bool,
         backend: str, quiet: bool, interrupted: Callable[[], bool]) -> ContractRun:
    from lcdev.contracts.run import TargetFactory, run_contract_checks
    from lcdev.contracts.stack import ephemeral_target, running_target

    with _progress(quiet) as say:
        target: TargetFactory = (
            (lambda _timings: contextlib.nullcontext(running_target(root))) if running
            else (lambda timings: ephemeral_target(root, backend, timings=timings,
                                                   on_progress=say, keep_telemetry=True)))
        return run_contract_checks(root, loaded, options, target, progress=say,
                                   interrupted=interrupted)


@contextlib.contextmanager
def _ctrl_c_noted() -> Iterator[Callable[[], bool]]:
    """Ctrl-C raises ``KeyboardInterrupt`` as usual and is also remembered, so the run can
    stop after a check that swallowed it (schemathesis does); yields "was it pressed?"."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed.is_set
        return

    def on_sigint(_signum: int, _frame: object) -> None:
        pressed.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr naming the step under way; one line per step when stderr is not a
    terminal (a CI log); nothing with --json."""
    if quiet:
        yield lambda _message: None
        return
    if not output.err.is_terminal:
        yield lambda message: output.err.print(f"{message} …", highlight=False)
        return
    with output.err.status("checking contracts") as status:
        yield lambda message: status.update(f"{message} …")


def _shown_path(store: Path, root: Path) -> str:
    """Where the ephemeral run's traces are, as a path the user can paste from ``root``."""
    with contextlib.suppress(ValueError):
        store = store.relative_to(root)
    return str(store)


def _report(run: ContractRun, root: Path, junit: Path | None, json_output: bool) -> None:
    from lcdev.cli.views.contract_report import contract_report
    from lcdev.contracts.annotations import github_annotations, in_github_actions
    from lcdev.contracts.junit import write_junit

    if junit is not None:
        write_junit(junit, run.findings, run.asked, run.seconds)
    if json_output:
        output.print_json(run.to_dict())
    else:
        stack = (run.stack.up, run.stack.down) if run.stack.up else None
        # soft_wrap: long lines (curl commands) stay whole, to be copied and pasted
        kept = _shown_path(run.stack.telemetry, root) if run.stack.telemetry else None
        report = contract_report(run.findings, run.asked, run.seconds,
                                 check_seconds=run.check_seconds, stack=stack,
                                 telemetry_store=kept)
        output.console.print(report, soft_wrap=True)
    if in_github_actions(os.environ):
        # Workflow commands are read from either stream; stdout stays pure JSON with --json.
        stream = sys.stderr if json_output else sys.stdout
        for line in github_annotations(run.findings, root):
            stream.write(line + "\n")
