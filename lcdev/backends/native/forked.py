"""Low-code services forked from a preloaded parent, so start-up is paid once, not per service.

Importing the runtime's libraries (starlette, uvicorn, asyncpg, aiokafka, SQLAlchemy, Alembic,
pydantic) costs ~1 s of CPU per Python process. The standard library's multiprocessing
*forkserver* imports them once (``preload``) and forks each service from that warm process in a
few milliseconds. Every service is still its own OS process with its own pid, session, output
and exit code; it dies with the fork server (parent-death signal), which dies with the
supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import multiprocessing
import os
import signal
import socket
import sys
from collections.abc import Sequence
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess

from lcdev.backends.base import LineSink
from lcdev.backends.native.process import ProcessGroupHandle, pump_lines

__all__ = ["ForkedProcess", "ServiceForkServer"]

_PR_SET_PDEATHSIG = 1


def _child_main(module: str, argv: list[str], env: dict[str, str], output: socket.socket) -> None:
    """Runs in the forked child: own session, output to the supervisor, then ``main(argv)``."""
    # multiprocessing hands every child the write end of the fork server's "alive" pipe; while
    # a child holds it, the fork server never sees its parent (the supervisor) die, so it and
    # the children would outlive a killed supervisor. The child does not need it: close it.
    from multiprocessing import forkserver

    alive_fd = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_alive_fd", None)
    if isinstance(alive_fd, int):
        with contextlib.suppress(OSError):
            os.close(alive_fd)
    os.setsid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = importlib.import_module(module).main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code or 0))


class ForkedProcess(ProcessGroupHandle):
    """Handle on a service forked from the fork server."""

    def __init__(self, name: str, process: BaseProcess, pump: asyncio.Task[None]) -> None:
        self.name = name
        self.process = process
        self._pump = pump
        self._exited = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().add_reader(process.sentinel, self._on_exit)

    def _on_exit(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self.process.sentinel)
        self.process.join(timeout=0)
        if not self._exited.done():
            self._exited.set_result(self.process.exitcode)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    async def _exit_code(self) -> int | None:
        code: int | None = await asyncio.shield(self._exited)
        return code

    async def wait(self) -> int | None:
        code: int | None = await asyncio.shield(self._exited)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._pump), timeout=1.0)
        return code

    def exited(self) -> bool:
        return self._exited.done()

async def _pump_socket(sock: socket.socket, sink: LineSink) -> None:
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024 * 1024)
    try:
        await pump_lines(reader, "stdout", sink)
    finally:
        writer.close()


class ServiceForkServer:
    """One fork server per supervisor, preloading the runtime's modules."""

    def __init__(self, preload: Sequence[str]) -> None:
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(preload))

    async def warm_up(self) -> None:
        """Start the fork server now, so its imports overlap with the rest of start-up."""
        from multiprocessing import forkserver

        await asyncio.to_thread(forkserver.ensure_running)

    async def spawn(
        self, name: str, module: str, argv: list[str], env: dict[str, str], sink: LineSink
    ) -> ForkedProcess:
        """Fork a child that runs ``module.main(argv)``; its output lines go to ``sink``."""
        ours, theirs = socket.socketpair()
        process = self._context.Process(
            target=_child_main, args=(module, argv, env, theirs), name=f"lcdev-{name}",
            daemon=False,
        )
        try:
            await asyncio.to_thread(process.start)  # blocks until the fork server forked
        finally:
            theirs.close()
        pump = asyncio.create_task(_pump_socket(ours, sink))
        return ForkedProcess(name, process, pump)
