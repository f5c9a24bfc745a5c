"""The backend interface: how the supervisor starts, watches and stops stack components.

A backend turns a ``ResolvedComponent`` (a component definition with its port and data dir
decided) into something running, streams its output line by line, and stops it. Readiness is
probed by the supervisor with ``lcdev.backends.probes``, the same way for every backend, so the
native and Docker backends behave alike and pass the same tests.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from lcdev.backends.errors import BackendError
from lcdev.definitions.stack import ComponentDefinition

__all__ = [
    "BackendError",
    "ComponentHandle",
    "LineSink",
    "ResolvedComponent",
    "StackBackend",
]

LineSink = Callable[[str, str], None]
"""Receives ``(stream, text)`` for every line a component writes (stream: stdout/stderr)."""


@dataclass(frozen=True)
class ResolvedComponent:
    """A component ready to run: its definition plus the decisions made for this workspace."""

    name: str
    definition: ComponentDefinition
    port: int
    data_dir: Path
    run_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    args: list[str] = field(default_factory=list)
    """Extra arguments (a low-code service's runtime options)."""
    cwd: Path | None = None
    kind: str = "infra"
    """``infra`` for stack components, ``service`` for the workspace's services."""


class ComponentHandle(abc.ABC):
    """One launched instance of a component."""

    name: str

    @property
    @abc.abstractmethod
    def ident(self) -> str:
        """What ``status`` shows: ``pid 1234`` or ``container 3f2a…``."""

    @property
    @abc.abstractmethod
    def pid(self) -> int | None:
        """Host pid when there is one (native processes)."""

    @abc.abstractmethod
    async def wait(self) -> int | None:
        """Wait until the instance has exited; return its exit code."""

    @abc.abstractmethod
    def exited(self) -> bool:
        """True once the instance is gone."""


class StackBackend(abc.ABC):
    """Starts and stops components. Implementations: ``NativeBackend`` (processes)."""

    name: ClassVar[str]

    async def warm_up(self, components: list[ResolvedComponent]) -> None:  # noqa: B027
        """Start shared, slow parts early (overlapping the rest of start-up); optional."""

    @abc.abstractmethod
    async def prepare(self, component: ResolvedComponent) -> None:
        """Make everything the launch needs (binaries located, data initialised, images
        present). Raises ``BackendError`` with a hint when something is missing."""

    @abc.abstractmethod
    async def launch(self, component: ResolvedComponent, sink: LineSink) -> ComponentHandle:
        """Start the component; every output line goes to ``sink``."""

    @abc.abstractmethod
    async def after_ready(self, component: ResolvedComponent) -> None:
        """One-off set-up once the component first answers (e.g. create the database)."""

    @abc.abstractmethod
    async def stop(
        self, component: ResolvedComponent, handle: ComponentHandle, timeout: float = 10.0
    ) -> None:
        """Stop gracefully, then forcefully after ``timeout``; return once it is gone."""

    async def reload_config(  # noqa: B027
        self, component: ResolvedComponent, handle: ComponentHandle
    ) -> None:
        """Ask a running component to re-read its configuration file now (the gateway, after
        ``gateway.json`` was rewritten). Optional: a component that is not told polls its
        file anyway, only later."""

    @abc.abstractmethod
    async def remove_data(self, component: ResolvedComponent) -> None:
        """Delete the component's persistent data (``down -v``)."""

    @abc.abstractmethod
    def connection_url(self, component: ResolvedComponent) -> str:
        """How a user or service connects to the component."""
