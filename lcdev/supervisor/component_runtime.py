"""What the supervisor knows about each component while it runs, and who else listens.

``ComponentRuntime`` is the live record of one component (state, current instance, restarts,
the last lines it wrote); ``lcdev status`` shows it. Kept apart from ``Supervisor`` so the
supervisor's module is about what it does, not about what it stores.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from lcdev.backends.base import ComponentHandle, ResolvedComponent
from lcdev.core.events import Event
from lcdev.core.states import ComponentState

__all__ = ["SUPERVISOR_SOURCE", "TAIL_LINES", "ComponentRuntime", "Observer", "StartFailed"]

TAIL_LINES = 30
SUPERVISOR_SOURCE = "lcdev"
"""The source of the supervisor's own lines in the merged log."""


class Observer(Protocol):
    """Who else hears every line and event (the telemetry store)."""

    def line(self, source: str, stream: str, text: str) -> None: ...

    def event(self, event: Event) -> None: ...


class StartFailed(Exception):
    """A component could not be started or never became ready (``hint`` says what to do)."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.hint = hint


@dataclass
class ComponentRuntime:
    """What the supervisor knows about one component right now."""

    component: ResolvedComponent
    url: str
    state: ComponentState = ComponentState.PENDING
    handle: ComponentHandle | None = None
    restarts: int = 0
    since: float = field(default_factory=time.time)
    last_error: str = ""
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    watcher: asyncio.Task[None] | None = None
    crash_streak: int = 0
    up_since: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.component.name,
            "kind": self.component.kind,
            "state": str(self.state),
            "ident": self.handle.ident if self.handle and not self.handle.exited() else None,
            "pid": self.handle.pid if self.handle and not self.handle.exited() else None,
            "port": self.component.port,
            "url": self.url,
            "restarts": self.restarts,
            "since": self.since,
            "last_error": self.last_error,
        }
