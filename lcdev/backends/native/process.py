"""A supervised native process: its own session, output pumped line by line, stopped by group.

Every child runs in a new session so a terminal's Ctrl-C reaches only the supervisor, which
stops children in order. On Linux each child also gets a parent-death signal, so even a
supervisor killed with SIGKILL leaves no orphans.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lcdev.backends.base import ComponentHandle, LineSink

__all__ = ["NativeProcess", "ProcessGroupHandle", "pump_lines", "spawn"]

_PR_SET_PDEATHSIG = 1


def _death_signal_setter(sig: int) -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def set_death_signal() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig)

    return set_death_signal


class ProcessGroupHandle(ComponentHandle):
    """A child that leads its own process group: stopped by signalling the whole group."""

    @property
    def ident(self) -> str:
        return f"pid {self.pid}"

    @abc.abstractmethod
    async def _exit_code(self) -> int | None:
        """Wait for the exit itself (without draining output)."""

    async def terminate(self, sig: int, timeout: float) -> None:
        """Signal the whole process group, escalate to SIGKILL after ``timeout``."""
        if self.exited():
            return
        self._signal_group(sig)
        try:
            await asyncio.wait_for(self._exit_code(), timeout=timeout)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self._exit_code()

    def _signal_group(self, sig: int) -> None:
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


class NativeProcess(ProcessGroupHandle):
    """Handle on a running child process."""

    def __init__(
        self, name: str, process: asyncio.subprocess.Process, pumps: list[asyncio.Task[None]]
    ) -> None:
        self.name = name
        self.process = process
        self._pumps = pumps

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def _exit_code(self) -> int | None:
        return await self.process.wait()

    async def wait(self) -> int | None:
        code = await self.process.wait()
        # Let the pumps drain what the process wrote last; it is what explains a crash.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps), timeout=1.0)
        return code

    def exited(self) -> bool:
        return self.process.returncode is not None


async def pump_lines(stream: asyncio.StreamReader, name: str, sink: LineSink) -> None:
    """Hand every line of ``stream`` to ``sink`` as ``(name, text)`` until it ends."""
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a line longer than the limit: take what there is
            raw = await stream.read(64 * 1024)
        if not raw:
            return
        sink(name, raw.decode("utf-8", errors="replace").rstrip("\r\n"))


async def spawn(
    name: str,
    argv: Sequence[str],
    sink: LineSink,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: int | None = None,
    group: int | None = None,
    death_signal: int = signal.SIGTERM,
) -> NativeProcess:
    """Start ``argv`` in its own session and pump stdout/stderr into ``sink``."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        user=user,
        group=group,
        preexec_fn=_death_signal_setter(death_signal),
        limit=1024 * 1024,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    pumps = [
        asyncio.create_task(pump_lines(process.stdout, "stdout", sink)),
        asyncio.create_task(pump_lines(process.stderr, "stderr", sink)),
    ]
    return NativeProcess(name, process, pumps)
