"""What the supervisor leaves on disk while it runs: a lock, its own record, its children.

The lock (``flock`` on ``run/supervisor.lock``) makes a second supervisor for the same
workspace impossible. The children record lets the next ``up`` or ``down`` clean up processes
a crashed supervisor left behind, without ever touching an unrelated process that reused a pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from typing import IO, Any

import psutil

from lcdev.core.layout import WorkspaceLayout

__all__ = [
    "SupervisorLock",
    "SupervisorRecord",
    "kill_recorded_children",
    "read_supervisor_record",
    "wait_for_exit",
    "write_children",
]


class SupervisorLock:
    """An exclusive, non-blocking lock held for the supervisor's whole life."""

    def __init__(self, layout: WorkspaceLayout) -> None:
        self._path = layout.lock_file
        self._handle: IO[str] | None = None

    def acquire(self) -> bool:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


@dataclass(frozen=True)
class SupervisorRecord:
    """``run/supervisor.json``: how clients find the running supervisor."""

    pid: int
    socket: str
    backend: str
    started_at: float
    workspace: str


def write_supervisor_record(layout: WorkspaceLayout, record: SupervisorRecord) -> None:
    layout.supervisor_file.write_text(json.dumps(asdict(record)))


def read_supervisor_record(layout: WorkspaceLayout) -> SupervisorRecord | None:
    try:
        data: dict[str, Any] = json.loads(layout.supervisor_file.read_text())
        return SupervisorRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True once the process is gone or a zombie (it exited; its parent has not reaped it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def write_children(layout: WorkspaceLayout, pids: list[int]) -> None:
    entries = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            entries.append({"pid": pid, "created": psutil.Process(pid).create_time()})
    layout.children_file.write_text(json.dumps(entries))


def kill_recorded_children(layout: WorkspaceLayout) -> list[int]:
    """Kill the process groups of recorded children that still run; return their pids."""
    try:
        entries = json.loads(layout.children_file.read_text())
    except (OSError, ValueError):
        return []
    killed: list[int] = []
    for entry in entries:
        try:
            process = psutil.Process(int(entry["pid"]))
            if abs(process.create_time() - float(entry["created"])) > 0.01:
                continue  # the pid was reused by something else
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
            killed.append(process.pid)
        except (psutil.Error, OSError, KeyError, ValueError):
            continue
    layout.children_file.unlink(missing_ok=True)
    return killed
