"""``NativeBackend``: every component as a local process — the default when no Docker engine
answers. PostgreSQL from local or wheel-bundled binaries, tansu as the Kafka broker, Python
components (the gateway) with lcdev's own interpreter, anything else as a command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import ClassVar

from lcdev.backends.base import (
    BackendError,
    ComponentHandle,
    LineSink,
    ResolvedComponent,
    StackBackend,
)
from lcdev.backends.native.binaries import BinaryNotFound, locate_tansu
from lcdev.backends.native.forked import ServiceForkServer
from lcdev.backends.native.postgres import STOP_SIGNAL, PostgresRecipe
from lcdev.backends.native.process import ProcessGroupHandle, spawn

__all__ = ["RUNTIME_MAIN", "NativeBackend"]

RUNTIME_MAIN = "lcdev.runtime.main"
"""The module whose ``main(argv)`` serves one low-code service."""
RELOAD_MODULES = ("lcdev.runtime.reload",)
"""Imported by a service on its first hot reload (~1.5 ms to preload, ~10 ms in a reload)."""
MIGRATION_MODULES = ("lcdev.runtime.data.schema", "lcdev.runtime.data.migrate_plan",
                     "lcdev.runtime.data.migrate_apply")
"""Imported by a service only when its schema must change (SQLAlchemy, Alembic)."""
TELEMETRY_MODULES = ("opentelemetry.sdk.resources", "opentelemetry.sdk.trace",
                     "opentelemetry.sdk.trace.export", "opentelemetry.sdk.metrics",
                     "opentelemetry.sdk.metrics.export",
                     "opentelemetry.exporter.otlp.proto.http.trace_exporter",
                     "opentelemetry.exporter.otlp.proto.http.metric_exporter",
                     "opentelemetry.exporter.http.transport._requests", "requests")
"""Imported by every service when the supervisor collects telemetry (OTEL_* in its env)."""


def _use_fork_server() -> bool:
    """Fork services from a preloaded parent unless disabled (LCDEV_FORK_SERVER=0)."""
    return os.environ.get("LCDEV_FORK_SERVER", "1") != "0" and sys.platform != "win32"


def _runnable(program: str, cwd: Path | None) -> bool:
    if "/" in program:
        path = Path(program) if cwd is None else cwd / program
        return os.access(path, os.X_OK)
    return shutil.which(program) is not None


class NativeBackend(StackBackend):
    """Runs components as child processes of the supervisor."""

    name: ClassVar[str] = "native"

    def __init__(self) -> None:
        self._postgres: PostgresRecipe | None = None
        self._forks: ServiceForkServer | None = None

    @property
    def forks(self) -> ServiceForkServer:
        """The fork server for low-code services, preloading the runtime once."""
        if self._forks is None:
            self._forks = ServiceForkServer(preload=[RUNTIME_MAIN, *RELOAD_MODULES])
        return self._forks

    async def warm_up(self, components: list[ResolvedComponent]) -> None:
        """Start slow shared parts early (the fork server) when components will need them.

        On a fresh database every service will create its tables, so the fork server also
        preloads SQLAlchemy and Alembic once instead of each service importing them."""
        if not _use_fork_server() or not any(
            c.definition.native.driver == "lowcode" for c in components
        ):
            return
        fresh = any(
            c.definition.native.driver == "postgres" and not (c.data_dir / "PG_VERSION").exists()
            for c in components
        )
        traced = any("OTEL_EXPORTER_OTLP_ENDPOINT" in c.env for c in components)
        if self._forks is None:
            self._forks = ServiceForkServer(
                preload=[RUNTIME_MAIN, *RELOAD_MODULES, *(MIGRATION_MODULES if fresh else ()),
                         *(TELEMETRY_MODULES if traced else ())]
            )
        await self.forks.warm_up()

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
            if not command or not _runnable(command[0], component.cwd):
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
        if native.driver == "lowcode":
            return [sys.executable, "-m", "lcdev.runtime", *component.args]
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
        if driver == "lowcode" and _use_fork_server():
            return await self.forks.spawn(
                component.name, RUNTIME_MAIN, component.args, component.env, sink
            )
        uid, gid = self.postgres.ids() if driver == "postgres" else (None, None)
        env = {**os.environ, **component.env}
        try:
            return await spawn(
                component.name,
                self._argv(component),
                sink,
                env=env,
                cwd=component.cwd,
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
        assert isinstance(handle, ProcessGroupHandle)
        is_postgres = component.definition.native.driver == "postgres"
        sig = STOP_SIGNAL if is_postgres else signal.SIGTERM
        await handle.terminate(sig, timeout)

    async def reload_config(self, component: ResolvedComponent, handle: ComponentHandle) -> None:
        """SIGHUP to the process itself (not its group): the gateway re-reads its file at once."""
        if handle.pid is not None and not handle.exited():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(handle.pid, signal.SIGHUP)

    async def remove_data(self, component: ResolvedComponent) -> None:
        await asyncio.to_thread(shutil.rmtree, component.data_dir, True)

    def connection_url(self, component: ResolvedComponent) -> str:
        driver = component.definition.native.driver
        if driver == "postgres":
            return self.postgres.url(component)
        if driver == "tansu":
            return f"kafka://{component.host}:{component.port}"
        return f"http://{component.host}:{component.port}"
