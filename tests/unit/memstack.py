"""A three-component stack on the ``InMemoryBackend``, and helpers to drive a ``Supervisor``.

``db`` and ``broker`` (which depends on db) answer the tcp probe, ``gateway`` (which depends on
both) the http probe; readiness gives up after half a second and restart backoff starts at
10 ms, so every scenario runs in well under a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from lcdev.backends.base import ResolvedComponent
from lcdev.backends.memory import InMemoryBackend
from lcdev.core.backoff import RestartPolicy
from lcdev.core.events import Event
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions.stack import StackDefinition
from lcdev.supervisor.ports import free_port
from lcdev.supervisor.resolve import StackPlan
from lcdev.supervisor.supervisor import Supervisor

__all__ = ["NAMES", "POLICY", "kinds", "of", "run", "supervisor_on", "until"]

T = TypeVar("T")

POLICY = RestartPolicy(initial=0.01)

STACK = StackDefinition.model_validate(
    {
        "components": {
            "db": {
                "port": 0,
                "readiness": {"probe": "tcp", "timeout": 0.5},
                "native": {"driver": "command", "command": ["db"]},
            },
            "broker": {
                "port": 0,
                "depends_on": ["db"],
                "readiness": {"probe": "tcp", "timeout": 0.5},
                "native": {"driver": "command", "command": ["broker"]},
            },
            "gateway": {
                "port": "workspace",
                "depends_on": ["db", "broker"],
                "readiness": {"probe": "http", "path": "/_lcdev/health", "timeout": 0.5},
                "native": {"driver": "python", "module": "lcdev.gateway"},
            },
        }
    }
)
NAMES = ["db", "broker", "gateway"]


def _plan(layout: WorkspaceLayout) -> StackPlan:
    components = [
        ResolvedComponent(
            name=name,
            definition=definition,
            port=free_port(),
            data_dir=layout.component_data(name),
            run_dir=layout.run_dir,
        )
        for name, definition in STACK.components.items()
    ]
    depends = {name: list(d.depends_on) for name, d in STACK.components.items()}
    return StackPlan(components=components, depends_on=depends)


def supervisor_on(root: Path, backend: InMemoryBackend) -> Supervisor:
    layout = WorkspaceLayout(root)
    return Supervisor(layout, backend, _plan(layout), POLICY)


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(10):
            return await scenario()

    return asyncio.run(bounded())


async def until(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def kinds(events: list[Event]) -> list[str]:
    def label(event: Event) -> str:
        name = getattr(event, "name", None)
        return type(event).__name__ + (f":{name}" if name else "")

    return [label(e) for e in events]


def of(kind: type[T], events: list[Event]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]
