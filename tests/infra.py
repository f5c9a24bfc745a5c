"""Real PostgreSQL and tansu for tests, started once per session with lcdev's own native
backend (so the tests also exercise it). Each is on a free port in a temp folder."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lcdev.backends.base import ComponentHandle, ResolvedComponent
from lcdev.backends.native.backend import NativeBackend
from lcdev.backends.probes import wait_until_ready
from lcdev.definitions import load_model
from lcdev.definitions.stack import StackDefinition, bundled_stacks_dir
from lcdev.supervisor.ports import free_port

__all__ = ["running_component"]


class _Loop:
    """A background event loop owning the component's process and output pumps."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def running_component(name: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """Start ``postgres`` or ``kafka`` from the default stack; yield (url, restart)."""
    stack, problems = load_model(bundled_stacks_dir() / "default.yaml", StackDefinition)
    assert stack is not None, problems
    folder = Path(tempfile.mkdtemp(prefix=f"lcdev-{name}-"))
    folder.chmod(0o755)
    component = ResolvedComponent(
        name=name, definition=stack.components[name], port=free_port(),
        data_dir=folder / "data", run_dir=folder / "run",
    )
    backend = NativeBackend()
    loop = _Loop()
    lines: list[str] = []
    state: dict[str, ComponentHandle] = {}

    async def start() -> None:
        await backend.prepare(component)
        state["handle"] = await backend.launch(component, lambda _s, text: lines.append(text))
        await wait_until_ready(component, state["handle"])
        await backend.after_ready(component)

    def restart() -> None:
        loop.run(backend.stop(component, state["handle"], timeout=5))
        loop.run(start())

    loop.run(start())
    try:
        yield backend.connection_url(component), restart
    finally:
        loop.run(backend.stop(component, state["handle"], timeout=5))
        loop.close()
        shutil.rmtree(folder, ignore_errors=True)



