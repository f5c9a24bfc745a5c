"""``InMemoryBackend``: a real, process-free implementation of ``StackBackend`` for fast tests.

Like httpx's ``MockTransport``, it is a genuine implementation of the interface rather than a
patch: every launched component is an asyncio "instance" that listens with a real TCP server on
``127.0.0.1:<port>``, so the supervisor's real ``tcp`` probe passes; for the ``http`` probe kind
it answers every request with ``200 OK``. Each instance writes a few output lines through the
sink, exits when it is stopped or told to crash, and the backend counts what happened so tests
can assert on it.

Scripted behaviour:

- ``fail_prepare={name: BackendError(...)}``: ``prepare`` raises that error for the component;
- ``never_ready={name}``: the instance runs but never listens (its probe times out);
- ``crash(name, exit_code)``: the running instance exits as if the process had died;
- ``launches[name]`` counts launches, ``stopped`` lists every ``stop`` in call order,
  ``reloaded`` every ``reload_config``.

The ``sql`` and ``kafka`` probes need a real server; ``prepare`` refuses components that use
them so a test fails at once with a clear message instead of waiting for a readiness timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import ClassVar

from lcdev.backends.base import ComponentHandle, LineSink, ResolvedComponent, StackBackend
from lcdev.backends.errors import BackendError

__all__ = ["InMemoryBackend", "InMemoryInstance"]

_ANSWERABLE_PROBES = {"tcp", "http"}
_HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
STOPPED_EXIT_CODE = 0
"""The exit code an instance reports when it was stopped on purpose."""


class InMemoryInstance(ComponentHandle):
    """One launched in-memory component: an optional TCP server and an exit code to come."""

    def __init__(self, name: str, number: int, sink: LineSink) -> None:
        self.name = name
        self.number = number
        self._sink = sink
        self._server: asyncio.AbstractServer | None = None
        self._done = asyncio.Event()
        self._code: int | None = None

    @property
    def ident(self) -> str:
        return f"mem {self.number}"

    @property
    def pid(self) -> int | None:
        return None

    async def wait(self) -> int | None:
        await self._done.wait()
        return self._code

    def exited(self) -> bool:
        return self._done.is_set()

    @property
    def listening(self) -> bool:
        """True while the instance accepts connections."""
        return self._server is not None and not self.exited()

    async def listen(self, host: str, port: int, answer_http: bool) -> None:
        """Start accepting connections; with ``answer_http`` reply ``200 OK`` to any request."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(
                OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError
            ):
                if answer_http:
                    await reader.readuntil(b"\r\n\r\n")  # request line and headers
                    writer.write(_HTTP_OK)
                    await writer.drain()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

        self._server = await asyncio.start_server(serve, host, port)

    def exit(self, code: int | None, reason: str) -> None:
        """End the instance: stop listening, write a last line, report ``code`` to waiters."""
        if self.exited():
            return
        if self._server is not None:
            self._server.close()  # listening sockets close at once; the port is free again
        self._sink("stderr" if code else "stdout", f"{self.name}: {reason} (exit {code})")
        self._code = code
        self._done.set()


class InMemoryBackend(StackBackend):
    """Runs components as asyncio instances inside the current event loop."""

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        *,
        fail_prepare: Mapping[str, BackendError] | None = None,
        never_ready: Iterable[str] = (),
    ) -> None:
        self.fail_prepare: dict[str, BackendError] = dict(fail_prepare or {})
        self.never_ready: set[str] = set(never_ready)
        self.launches: Counter[str] = Counter()
        self.stopped: list[str] = []
        self.ready: list[str] = []
        self.reloaded: list[str] = []
        self.instances: dict[str, list[InMemoryInstance]] = {}
        self._count = 0

    # -- scripting ------------------------------------------------------------------------

    def running(self, name: str) -> InMemoryInstance | None:
        """The component's instance that has not exited, if any."""
        for instance in reversed(self.instances.get(name, [])):
            if not instance.exited():
                return instance
        return None

    def crash(self, name: str, exit_code: int | None = 1) -> None:
        """Make the running instance of ``name`` exit with ``exit_code``, as if it died."""
        instance = self.running(name)
        if instance is None:
            raise LookupError(f"no running in-memory instance of '{name}'")
        instance.exit(exit_code, "crashed")

    # -- StackBackend ---------------------------------------------------------------------

    async def prepare(self, component: ResolvedComponent) -> None:
        error = self.fail_prepare.get(component.name)
        if error is not None:
            raise error
        probe = component.definition.readiness.probe
        if probe not in _ANSWERABLE_PROBES:
            raise BackendError(
                f"the in-memory backend cannot answer the '{probe}' probe of '{component.name}'",
                hint="use readiness probe tcp or http for components run in memory",
            )
        component.data_dir.mkdir(parents=True, exist_ok=True)
        component.run_dir.mkdir(parents=True, exist_ok=True)

    async def launch(self, component: ResolvedComponent, sink: LineSink) -> ComponentHandle:
        self._count += 1
        self.launches[component.name] += 1
        instance = InMemoryInstance(component.name, self._count, sink)
        self.instances.setdefault(component.name, []).append(instance)
        sink("stdout", f"{component.name}: starting in memory ({instance.ident})")
        if component.name in self.never_ready:
            sink("stdout", f"{component.name}: not listening (scripted never_ready)")
            return instance
        answer_http = component.definition.readiness.probe == "http"
        try:
            await instance.listen(component.host, component.port, answer_http)
        except OSError as exc:
            instance.exit(1, f"cannot listen on {component.host}:{component.port}")
            raise BackendError(
                f"could not run {component.name}: {exc}",
                hint="another program holds the port",
            ) from exc
        sink("stdout", f"{component.name}: listening on {component.host}:{component.port}")
        return instance

    async def after_ready(self, component: ResolvedComponent) -> None:
        self.ready.append(component.name)

    async def stop(
        self, component: ResolvedComponent, handle: ComponentHandle, timeout: float = 10.0
    ) -> None:
        assert isinstance(handle, InMemoryInstance)
        self.stopped.append(component.name)
        handle.exit(STOPPED_EXIT_CODE, "stopped")
        await handle.wait()

    async def reload_config(self, component: ResolvedComponent, handle: ComponentHandle) -> None:
        self.reloaded.append(component.name)

    async def remove_data(self, component: ResolvedComponent) -> None:
        await asyncio.to_thread(shutil.rmtree, component.data_dir, True)

    def connection_url(self, component: ResolvedComponent) -> str:
        scheme = "http" if component.definition.readiness.probe == "http" else "tcp"
        return f"{scheme}://{component.host}:{component.port}"
