"""``lcdev doctor``: what is installed, which backend ``auto`` picks and why, ports."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any

import typer

from lcdev.cli import output
from lcdev.cli.common import JsonOption, WorkspaceOption
from lcdev.core.layout import WorkspaceLayout, find_workspace_root
from lcdev.supervisor.client import connect

__all__ = ["doctor"]


def _check(label: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": label, "ok": ok, "detail": detail}


def _binaries() -> list[dict[str, Any]]:
    from lcdev.backends.base import BackendError
    from lcdev.backends.engines import find_docker_engine
    from lcdev.backends.native.binaries import BinaryNotFound, locate_postgres, locate_tansu
    from lcdev.backends.selection import choose_backend

    checks = [_check("python", sys.version_info >= (3, 11),
                     f"{platform.python_version()} ({sys.executable})")]
    for label, locate in (("postgresql", locate_postgres), ("kafka broker (tansu)", locate_tansu)):
        try:
            found = locate()
            checks.append(_check(label, True, f"{found.version} — {found.path} ({found.source})"))
        except BinaryNotFound as exc:
            checks.append(_check(label, False, str(exc)))
    engine = find_docker_engine()
    checks.append(_check("docker engine", True,
                         f"answers at {engine.address} ({engine.source})" if engine
                         else "none answers (fine: the native backend needs none)"))
    try:
        choice = choose_backend("auto")
        checks.append(_check("backend (auto)", True, f"{choice.name}: {choice.reason}"))
    except BackendError as exc:
        checks.append(_check("backend (auto)", False, str(exc)))
    return checks


def _workspace_checks(workspace: Path | None) -> list[dict[str, Any]]:
    from lcdev.definitions import load_workspace
    from lcdev.supervisor.ports import port_holder, port_is_free
    from lcdev.supervisor.resolve import load_stack

    root = find_workspace_root(workspace or Path.cwd())
    if root is None:
        return [_check("workspace", True, "not inside a workspace (ports not checked)")]
    loaded = load_workspace(root)
    errors = [p for p in loaded.problems if p.is_error]
    checks = [_check("workspace", not errors, f"{root} — " + (
        f"{len(errors)} problem(s), see `lcdev validate`" if errors
        else f"{len(loaded.services)} service(s), definitions valid"))]
    if loaded.workspace is None:
        return checks
    running = connect(WorkspaceLayout(root)) is not None
    checks.append(_check("supervisor", True, "running" if running else "not running"))
    stack, _ = load_stack(root, loaded.workspace.stack)
    if stack is None or running:
        return checks
    for name, component in stack.components.items():
        port = (loaded.workspace.gateway.port if component.port == "workspace"
                else loaded.workspace.ports.get(name, component.port))
        if port == 0:
            checks.append(_check(f"port for {name}", True, "picked at start-up"))
            continue
        free = port_is_free(port)
        holder = "" if free else f" (held by {port_holder(port) or 'another program'})"
        checks.append(_check(f"port {port} ({name})", free, ("free" if free else "taken") + holder))
    return checks


def doctor(json_output: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Check this machine: binaries, Docker engine, the backend `auto` would use, ports."""
    checks = _binaries() + _workspace_checks(workspace)
    healthy = all(c["ok"] for c in checks)
    if json_output:
        output.print_json({"ok": healthy, "checks": checks})
    else:
        for check in checks:
            mark = "[green]✓[/]" if check["ok"] else "[red]✗[/]"
            output.console.print(f"{mark} [bold]{check['check']}[/]: {check['detail']}")
    if not healthy:
        raise typer.Exit(1)
