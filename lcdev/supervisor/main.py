"""The supervisor process: ``python -m lcdev.supervisor --workspace DIR``.

One per workspace (guarded by a lock). It loads the definitions, plans the stack, serves the
control API, starts everything, then watches the workspace and reloads what changes (unless
``--no-watch``; ``lcdev apply`` reloads either way), and stays until ``down``, SIGTERM or
SIGINT, then stops every process, frees every port and removes its run files. Exit codes: 0
stopped cleanly, 1 start-up failed, 2 invalid definitions, 3 another supervisor already runs
this workspace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lcdev.backends.base import BackendError, ResolvedComponent, StackBackend
from lcdev.backends.native.backend import NativeBackend
from lcdev.core.events import ComponentFailed, StackFailed
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, load_workspace
from lcdev.scaffolding.editor_schemas import write_editor_schemas
from lcdev.supervisor.hot_reload import HotReload
from lcdev.supervisor.records import (
    SupervisorLock,
    SupervisorRecord,
    kill_recorded_children,
    write_supervisor_record,
)
from lcdev.supervisor.reload_history import ReloadHistory
from lcdev.supervisor.resolve import StackPlan, load_stack, plan_stack, write_gateway_config
from lcdev.supervisor.supervisor import Supervisor
from lcdev.supervisor.telemetry import TelemetryHub

__all__ = ["main", "run_supervisor"]

EXIT_OK, EXIT_START_FAILED, EXIT_INVALID, EXIT_ALREADY_RUNNING = 0, 1, 2, 3
EXIT_USAGE = 64  # sysexits' EX_USAGE: lcdev and its supervisor disagree on the arguments


def _control_server(supervisor: Supervisor, extra: Any, shutdown: Any, reload_now: Any,
                    socket_path: Path) -> Any:
    """Build the control API server. Imported late (in a thread), so the components are
    already booting while starlette and uvicorn load."""
    import uvicorn

    from lcdev.supervisor.control import build_control_app

    class QuietServer(uvicorn.Server):
        """uvicorn without its own signal handling: the supervisor decides when to stop."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            yield

    app = build_control_app(supervisor, extra, shutdown, reload_now)
    config = uvicorn.Config(app, uds=str(socket_path), log_level="warning", lifespan="off")
    return QuietServer(config)


def _say(message: str) -> None:
    sys.stderr.write(f"[lcdev supervisor] {message}\n")
    sys.stderr.flush()


def make_backend(name: str) -> StackBackend:
    if name == "native":
        return NativeBackend()
    raise BackendError(
        f"backend '{name}' is not available in this version of lcdev",
        hint="use --backend native (the default when no Docker engine answers)",
    )


async def run_supervisor(
    root: Path, backend_name: str, allow_destructive: frozenset[str] = frozenset(),
    watch: bool = True,
) -> int:
    layout = WorkspaceLayout(root)
    lock = SupervisorLock(layout)
    if not lock.acquire():
        _say(f"another supervisor already runs the workspace at {root}")
        return EXIT_ALREADY_RUNNING
    try:
        return await _run_locked(layout, backend_name, allow_destructive, watch)
    finally:
        lock.release()


async def _run_locked(
    layout: WorkspaceLayout, backend_name: str, allow_destructive: frozenset[str], watch: bool
) -> int:
    killed = kill_recorded_children(layout)
    if killed:
        _say(f"stopped {len(killed)} process(es) left by a previous supervisor: {killed}")
    loaded = load_workspace(layout.root)
    errors = [p for p in loaded.problems if p.is_error]
    if errors or loaded.workspace is None:
        for problem in loaded.problems:
            sys.stderr.write(f"{problem.relative_to(layout.root)}\n")
        return EXIT_INVALID
    workspace = loaded.workspace
    stack, problems = load_stack(layout.root, workspace.stack)
    if stack is None:
        for problem in problems:
            _say(str(problem))
        return EXIT_INVALID
    try:
        backend = make_backend(backend_name)
        unknown = sorted(allow_destructive - set(loaded.services))
        if unknown:
            raise BackendError(f"--allow-destructive names no service: {', '.join(unknown)}",
                               hint=f"services: {', '.join(sorted(loaded.services))}")
        plan = plan_stack(loaded, stack, layout, allow_destructive)
        telemetry = TelemetryHub(layout, workspace.telemetry, workspace.name)
        telemetry.reserve_port()
    except BackendError as exc:
        _say(f"{exc}" + (f" — {exc.hint}" if exc.hint else ""))
        return EXIT_START_FAILED
    write_gateway_config(plan, loaded)
    token = secrets.token_urlsafe(32)
    env_for = _component_env(telemetry, token)
    for component in plan.components:
        component.env.update(env_for(component))
    telemetry.open_store()
    ReloadHistory(layout.reloads_file).trim()
    settings = _ReloadSettings(allow_destructive, watch, token, env_for)
    try:
        return await _serve(layout, backend, plan, loaded, telemetry, settings)
    finally:
        await telemetry.close(wipe=telemetry.wipe_requested)


def _component_env(telemetry: TelemetryHub, token: str
                   ) -> Callable[[ResolvedComponent], dict[str, str]]:
    """What every component's environment gets from this run: the telemetry endpoints and,
    for low-code services, the control token their ``POST /_lcdev/reload`` asks for (new for
    each supervisor run, known only to it and its children)."""

    def env_for(component: ResolvedComponent) -> dict[str, str]:
        native = component.definition.native
        lowcode = native.driver == "lowcode"
        own = lowcode or native.module == "lcdev.gateway"
        env = dict(telemetry.env(component.name, lcdev_process=own))
        if lowcode:
            env["LCDEV_CONTROL_TOKEN"] = token
        return env

    return env_for


@dataclass(frozen=True)
class _ReloadSettings:
    """How this run reloads: services allowed destructive changes (``up --allow-destructive``),
    whether saves are watched, the services' control token, a new component's environment."""

    allow_destructive: frozenset[str]
    watch: bool
    token: str
    env_for: Callable[[ResolvedComponent], dict[str, str]]


async def _serve(layout: WorkspaceLayout, backend: StackBackend, plan: StackPlan,
                 loaded: LoadedWorkspace, telemetry: TelemetryHub, settings: _ReloadSettings
                 ) -> int:
    assert loaded.workspace is not None
    workspace = loaded.workspace
    supervisor = Supervisor(layout, backend, plan, observer=telemetry)
    stop_requested = asyncio.Event()
    remove_data = False
    hot = HotReload(supervisor, token=settings.token, watch=settings.watch,
                    allow_destructive=settings.allow_destructive, env_for=settings.env_for)
    hot.start_watching(layout.root)  # saves made while the stack starts are applied when ready

    def request_shutdown(wipe: bool) -> None:
        nonlocal remove_data
        remove_data = remove_data or wipe
        stop_requested.set()

    def extra() -> dict[str, Any]:
        services = [
            {"name": s.name, "kind": s.kind, "version": s.version, "route": s.route,
             "state": str(supervisor.runtimes[s.name].state)}
            for s in hot.services(loaded).values() if s.name in supervisor.runtimes
        ]
        return {"workspace": workspace.name, "root": str(layout.root), "services": services,
                "telemetry": telemetry.status(), "reload": hot.status()}

    start = asyncio.create_task(supervisor.start_all())
    socket_path = layout.socket_path
    socket_path.unlink(missing_ok=True)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    server = await asyncio.to_thread(
        _control_server, supervisor, extra, request_shutdown, hot.reload_now, socket_path
    )
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        if server_task.done():
            _say(f"the control API could not listen on {socket_path}")
            return EXIT_START_FAILED
        await asyncio.sleep(0.005)
    os.chmod(socket_path, 0o600)
    receiver = asyncio.create_task(telemetry.start_receiver())
    record = SupervisorRecord(os.getpid(), str(socket_path), backend.name, time.time(),
                              str(layout.root))
    write_supervisor_record(layout, record)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, request_shutdown, False)

    code = EXIT_OK
    try:
        stop_wait = asyncio.create_task(stop_requested.wait())
        done, _ = await asyncio.wait({start, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if start in done and not start.result():
            code = EXIT_START_FAILED
            await hot.end()
            _report_failure(supervisor)
        else:
            if start in done:  # ready: reload on save; refresh the editor schemas
                hot.begin(loaded)
                await asyncio.to_thread(write_editor_schemas, layout.root)
            await stop_requested.wait()
            await hot.end()
            if not start.done():
                start.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await start
                supervisor.emit(StackFailed(reason="start-up interrupted"))
            await supervisor.stop_all(remove_data=remove_data)
        stop_wait.cancel()
        telemetry.wipe_requested = remove_data
        await receiver
    finally:
        await asyncio.sleep(0.05)  # let streaming clients read the last events
        supervisor.bus.close()
        server.should_exit = True
        server.force_exit = True  # clients have their last events; do not wait on them
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server_task, timeout=2)
        layout.supervisor_file.unlink(missing_ok=True)
        socket_path.unlink(missing_ok=True)
    return code


def _report_failure(supervisor: Supervisor) -> None:
    """Failures also go to the supervisor's log, for a client that attached too late."""
    for event in supervisor.bus.history():
        if isinstance(event, ComponentFailed):
            _say(f"{event.reason}" + (f" — {event.hint}" if event.hint else ""))
            for line in event.last_lines[-15:]:
                sys.stderr.write(f"  | {line}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lcdev-supervisor", description=__doc__)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--backend", default="native")
    parser.add_argument("--allow-destructive", action="append", default=[], metavar="SERVICE")
    parser.add_argument("--no-watch", dest="watch", action="store_false",
                        help="do not reload on save (`lcdev apply` still reloads)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse's usage error is 2, which means invalid definitions
        return EXIT_USAGE if exc.code == 2 else int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING, format="[lcdev supervisor] %(message)s")
    allowed = frozenset(args.allow_destructive)
    return asyncio.run(run_supervisor(args.workspace.resolve(), args.backend, allowed,
                                      args.watch))
