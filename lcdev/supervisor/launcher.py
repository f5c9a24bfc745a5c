"""Starting a supervisor in the background and waiting until its control API answers, and the
things ``down`` does when no supervisor runs (stale processes, ``-v`` data removal)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.client import SupervisorClient, connect
from lcdev.supervisor.records import kill_recorded_children

__all__ = [
    "SupervisorStartFailed",
    "cleanup_offline",
    "spawn_supervisor",
    "start_supervisor",
    "wait_for_control",
]


class SupervisorStartFailed(RuntimeError):
    """The supervisor exited before its control API answered; the message is its output."""

    def __init__(self, message: str, exit_code: int | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def start_supervisor(root: Path, backend: str, timeout: float = 30.0) -> SupervisorClient:
    """Spawn ``python -m lcdev.supervisor`` detached from this terminal; return a client."""
    return wait_for_control(root, spawn_supervisor(root, backend), timeout)


def spawn_supervisor(root: Path, backend: str, allow_destructive: tuple[str, ...] = (),
                     watch: bool = True) -> subprocess.Popen[bytes]:
    """Start the supervisor in its own session (a terminal's Ctrl-C does not reach it).
    ``watch=False``: no hot reload on save (``lcdev apply`` still reloads)."""
    layout = WorkspaceLayout(root)
    layout.logs_dir.mkdir(parents=True, exist_ok=True)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    log = layout.supervisor_log.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "lcdev.supervisor", "--workspace", str(root), "--backend", backend,
         *(arg for name in allow_destructive for arg in ("--allow-destructive", name)),
         *(() if watch else ("--no-watch",))],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    log.close()
    return process


def wait_for_control(root: Path, process: subprocess.Popen[bytes], timeout: float = 30.0
                     ) -> SupervisorClient:
    """Wait until the spawned supervisor's control API answers."""
    layout = WorkspaceLayout(root)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            output = layout.supervisor_log.read_text(errors="replace").strip()
            raise SupervisorStartFailed(output or f"supervisor exited with code {code}", code)
        client = connect(layout)
        if client is not None:
            return client
        time.sleep(0.01)
    process.kill()
    raise SupervisorStartFailed(f"the supervisor did not answer within {timeout:.0f}s", None)


def cleanup_offline(root: Path, remove_data: bool) -> list[str]:
    """What ``down`` does when no supervisor answers; returns what it did, for the user."""
    layout = WorkspaceLayout(root)
    done: list[str] = []
    killed = kill_recorded_children(layout)
    if killed:
        done.append(f"stopped {len(killed)} process(es) left by a crashed supervisor")
    for stale in (layout.supervisor_file, layout.socket_path):
        stale.unlink(missing_ok=True)
    if remove_data:
        for folder in (layout.data_dir, layout.telemetry_dir):
            if folder.exists():
                shutil.rmtree(folder)
                done.append(f"removed {folder.relative_to(root)}")
    return done
