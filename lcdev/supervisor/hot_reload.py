"""Hot reload for one supervisor run: the watcher feeding the ``Reloader``, and what the
control API and ``lcdev status`` ask of it.

Watching starts with the supervisor, before anything is launched, and the saves it sees are
kept until the stack is ready; then the reloader applies them. So a file saved while the stack
starts, or right after ``lcdev up -d`` returned, is never missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection
from pathlib import Path
from typing import Any

from lcdev.backends.base import ResolvedComponent
from lcdev.core.events import Event
from lcdev.definitions import LoadedWorkspace, ServiceDefinition
from lcdev.supervisor.reloader import Reloader
from lcdev.supervisor.service_reload import HttpServiceReloadClient
from lcdev.supervisor.supervisor import Supervisor
from lcdev.supervisor.watch import ChangeBatch, watch_workspace

__all__ = ["HotReload"]

logger = logging.getLogger(__name__)


class HotReload:
    """``start_watching`` at once; reloads begin with ``begin`` (the stack is ready), on save
    (when ``watch``) and on request; ``end`` stops it before the stack stops."""

    def __init__(self, supervisor: Supervisor, *, token: str, watch: bool,
                 allow_destructive: Collection[str],
                 env_for: Callable[[ResolvedComponent], dict[str, str]]) -> None:
        self.supervisor = supervisor
        self.token = token
        self.watch = watch
        self.allow_destructive = frozenset(allow_destructive)
        self.env_for = env_for
        self.reloader: Reloader | None = None
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._batches: asyncio.Queue[ChangeBatch | None] = asyncio.Queue()
        self._stop = asyncio.Event()

    def start_watching(self, root: Path) -> None:
        """Watch ``root`` from now on (when ``watch``); saves wait for ``begin``."""
        if self.watch and self._watcher is None:
            self._watcher = asyncio.create_task(self._collect(root), name="lcdev-watch")

    async def _collect(self, root: Path) -> None:
        try:
            async for batch in watch_workspace(root, self._stop):
                self._batches.put_nowait(batch)
        except Exception as exc:  # e.g. the inotify watch limit: say so, keep the stack
            logger.exception("watching the workspace failed")
            self.supervisor.say(f"watching {root} stopped ({type(exc).__name__}: {exc});"
                                " saves are not reloaded any more, `lcdev apply` still reloads")
        finally:
            self._batches.put_nowait(None)

    async def _saved(self) -> AsyncIterator[ChangeBatch]:
        while (batch := await self._batches.get()) is not None:
            yield batch

    def begin(self, loaded: LoadedWorkspace) -> None:
        """The stack is ready: what it runs is ``loaded``."""
        self.reloader = Reloader(
            self.supervisor, loaded, HttpServiceReloadClient(self.token),
            env_for=self.env_for, allow_destructive=self.allow_destructive)
        if self._watcher is not None:
            self._task = asyncio.create_task(self.reloader.run(self._saved()),
                                             name="lcdev-reloader")

    async def reload_now(self, services: list[str], allow_destructive: bool
                         ) -> list[Event] | None:
        """``lcdev apply``; None while the stack is not ready."""
        if self.reloader is None:
            return None
        return await self.reloader.reload_now(services, allow_destructive)

    def services(self, loaded: LoadedWorkspace) -> dict[str, ServiceDefinition]:
        """The definitions that run now (``loaded`` until hot reload began)."""
        return self.reloader.view.services if self.reloader else loaded.services

    async def end(self, grace_s: float = 5.0) -> None:
        """Stop watching; a reload in progress gets ``grace_s`` to finish, then is cancelled."""
        self._stop.set()
        if self._watcher is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._watcher, timeout=grace_s)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_s)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        if self.reloader is not None:
            with contextlib.suppress(Exception):
                await self.reloader.aclose()

    def status(self) -> dict[str, Any]:
        """What ``lcdev status --json`` shows about hot reload."""
        return {"watching": self._watcher is not None and not self._watcher.done(),
                "pending": sorted(self.reloader.pending) if self.reloader else []}
