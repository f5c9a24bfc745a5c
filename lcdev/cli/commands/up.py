"""``lcdev up``: start the workspace's stack under its supervisor."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import EXIT_FAILED, WorkspaceOption, abort, resolve_root
from lcdev.core.events import LogLineEmitted, StackFailed, StackReady, StackStopped
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import SupervisorClient, connect
from lcdev.supervisor.records import read_supervisor_record, wait_for_exit

__all__ = ["up"]

EXIT_INVALID_DEFINITIONS = 2  # lcdev.supervisor.main.EXIT_INVALID
EXIT_INTERRUPTED = 130


def up(
    detach: Annotated[bool, typer.Option("--detach", "-d",
                      help="Return once everything is healthy; the stack keeps running.")] = False,
    backend: Annotated[str, typer.Option(
        help="auto (Docker when an engine answers, else native), native or docker.")] = "auto",
    allow_destructive: Annotated[list[str] | None, typer.Option(
        "--allow-destructive", metavar="SERVICE",
        help="Let this service's migration drop or narrow columns and tables (repeatable). "
             "Data in them is lost.")] = None,
    watch: Annotated[bool, typer.Option(
        "--watch/--no-watch",
        help="Reload services when their files are saved. With --no-watch, `lcdev apply` "
             "reloads them when you ask.")] = True,
    workspace: WorkspaceOption = None,
) -> None:
    """Start PostgreSQL, Kafka and the gateway for the workspace, watched by a supervisor.

    In the foreground it shows progress, then streams every component's logs until Ctrl-C,
    which stops everything. With -d it returns as soon as the stack is healthy.

    Saved definitions and code are reloaded live (`lcdev reloads` lists them).
    """
    from lcdev.backends.errors import BackendError
    from lcdev.backends.selection import choose_backend
    from lcdev.supervisor.launcher import (
        SupervisorStartFailed,
        spawn_supervisor,
        wait_for_control,
    )

    root = resolve_root(workspace)
    layout = WorkspaceLayout(root)
    running = connect(layout)
    if running is not None:
        output.info("[bold]already running[/] — nothing to do")
        output.print_status(running.status())
        return
    try:
        choice = choose_backend(backend)
    except BackendError as exc:
        abort(str(exc), exc.hint)
    output.info(f"[bold]{root.name}[/]: starting on the {choice.name} backend ({choice.reason})")
    # The supervisor validates the definitions first; with errors it starts nothing and exits
    # with EXIT_INVALID_DEFINITIONS, and its report is what the user sees.
    process = spawn_supervisor(root, choice.name, tuple(allow_destructive or ()), watch=watch)
    try:
        client = wait_for_control(root, process)
    except KeyboardInterrupt:
        process.terminate()  # the supervisor stops whatever it started, then exits
        process.wait(timeout=60)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except SupervisorStartFailed as exc:
        if exc.exit_code == EXIT_INVALID_DEFINITIONS:
            output.print_problems(str(exc).splitlines())
            abort("the definitions have errors; nothing was started",
                  "fix them (`lcdev validate` lists them again)")
        abort(f"the supervisor could not start:\n{exc}",
              f"its log is {layout.supervisor_log}")
    code = 0
    try:
        if not _follow_start(client):
            code = EXIT_FAILED
        elif detach:
            output.info("running in the background; `lcdev status`, `lcdev logs -f`, "
                        "`lcdev down`")
            return
        else:
            code = _stream_logs(client)
    except KeyboardInterrupt:
        output.info("")
        _stop(client)
    record = read_supervisor_record(layout)
    if record is not None:
        wait_for_exit(record.pid, timeout=60)  # it is stopping what it started
    if code:
        raise typer.Exit(code)


def _follow_start(client: SupervisorClient) -> bool:
    for event in client.events(logs=False, follow=True):
        output.print_event(event)
        if isinstance(event, StackReady):
            return True
        if isinstance(event, StackFailed):
            return False
    output.fail("the supervisor stopped before the stack was ready",
                "see .lcdev/logs/supervisor.log")
    return False


def _stream_logs(client: SupervisorClient) -> int:
    """Stream logs and events until the stack stops; Ctrl-C reaches the caller."""
    started = time.time()
    output.info("[dim]streaming logs — Ctrl-C stops everything[/]")
    for event in client.events(logs=True, follow=True):
        if event.at < started:
            continue
        if isinstance(event, LogLineEmitted):
            output.print_log_line(event)
        else:
            output.print_event(event)
        if isinstance(event, StackStopped):
            return 0
    output.fail("the supervisor went away", "see .lcdev/logs/supervisor.log")
    return EXIT_FAILED


def _stop(client: SupervisorClient) -> None:
    """Ask the supervisor to stop everything and show it happening."""
    stopping = time.time()
    client.shutdown()
    for event in client.events(logs=False, follow=True):
        if event.at >= stopping:
            output.print_event(event)
        if isinstance(event, StackStopped):
            break
