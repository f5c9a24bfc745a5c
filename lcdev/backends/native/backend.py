"""``NativeBackend``: every component as a local process — the default when no Docker engine
answers. PostgreSQL from local or wheel-bundled binaries, tansu as the Kafka broker, Python
components (the gateway) with lcdev's own interpreter, anything else as a command."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from typing import ClassVar

from lcdev.backends.base import (
    BackendError,
    ComponentHandle,
    LineSink,
    ResolvedComponent,
    StackBackend,
)
from lcdev.backends.native.binaries import BinaryNotFound, locate_tansu
from lcdev.backends.native.postgres import STOP_SIGNAL, PostgresRecipe
from lcdev.backends.native.process import NativeProcess, spawn

__all__ = ["NativeBackend"]


class NativeBackend(StackBackend):
    """Runs components as child processes of the supervisor."""

    name: ClassVar[str] = "native"

    def __init__(self) -> None:
        self._postgres: PostgresRecipe | None = None

    @property
    def postgres(self) -> PostgresRecipe:
        if self._postgres is None:
            self._postgres = PostgresRecipe()
        return self._postgres

    async def prepare(self, component: ResolvedComponent) -> None:
        component.run_dir.mkdir(parents=True, exist_ok=True)
        driver = component.definition.native.driver
        if driver == "postgres":
            await self.postgres.prepare(component)
        elif driver == "tansu":
            try:
                await asyncio.to_thread(locate_tansu)
            except BinaryNotFound as exc:
                raise BackendError(str(exc)) from exc
        elif driver == "command":
            command = component.definition.native.command or []
            if not command or shutil.which(command[0]) is None:
                raise BackendError(
                    f"command {command[:1]} for component '{component.name}' was not found",
                    hint="install it or fix `native.command` in the stack file",
                )

    def _argv(self, component: ResolvedComponent) -> list[str]:
        native = component.definition.native
        port = str(component.port)
        if native.driver == "postgres":
            return self.postgres.argv(component)
        if native.driver == "tansu":
            listener = f"tcp://{component.host}:{port}"
            return [
                str(locate_tansu().path), "broker",
                "--listener-url", listener,
                "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/",
            ]
        if native.driver == "python":
            return [
                sys.executable, "-m", native.module or "",
                "--host", component.host, "--port", port,
                "--config", str(component.run_dir / f"{component.name}.json"),
            ]
        substitutions = {"port": port, "data_dir": str(component.data_dir)}
        return [part.format(**substitutions) for part in native.command or []]

    async def launch(self, component: ResolvedComponent, sink: LineSink) -> ComponentHandle:
        driver = component.definition.native.driver
        uid, gid = self.postgres.ids() if driver == "postgres" else (None, None)
        env = {**os.environ, **component.env}
        try:
            return await spawn(
                component.name,
                self._argv(component),
                sink,
                env=env,
                user=uid,
                group=gid,
                death_signal=signal.SIGQUIT if driver == "postgres" else signal.SIGTERM,
            )
        except OSError as exc:
            raise BackendError(
                f"could not run {component.name}: {exc}",
                hint="`lcdev doctor` shows which binaries lcdev found",
            ) from exc

    async def after_ready(self, component: ResolvedComponent) -> None:
        if component.definition.native.driver == "postgres":
            await self.postgres.create_database(component)

    async def stop(
        self, component: ResolvedComponent, handle: ComponentHandle, timeout: float = 10.0
    ) -> None:
        assert isinstance(handle, NativeProcess)
        is_postgres = component.definition.native.driver == "postgres"
        sig = STOP_SIGNAL if is_postgres else signal.SIGTERM
        await handle.terminate(sig, timeout)

    async def remove_data(self, component: ResolvedComponent) -> None:
        await asyncio.to_thread(shutil.rmtree, component.data_dir, True)

    def connection_url(self, component: ResolvedComponent) -> str:
        driver = component.definition.native.driver
        if driver == "postgres":
            return self.postgres.url(component)
        if driver == "tansu":
            return f"kafka://{component.host}:{component.port}"
        return f"http://{component.host}:{component.port}"
