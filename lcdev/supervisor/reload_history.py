"""The reload history file: one event per line, appended as reloads end.

``.lcdev/telemetry/reloads.ndjson`` holds every ``ServiceReloaded``, ``ReloadFailed`` and
``WorkspaceReloaded`` as ``Event.to_dict`` JSON, so ``lcdev reloads`` can list them whether a
stack runs or not. It is trimmed to the newest lines when a supervisor starts (not on every
append: appends stay one ``write`` each) and goes with the telemetry on ``down -v``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lcdev.core.events import Event, ReloadFailed, ServiceReloaded, WorkspaceReloaded

__all__ = ["HISTORY_KINDS", "KEEP_LINES", "ReloadHistory"]

KEEP_LINES = 2000
HISTORY_KINDS: tuple[type[Event], ...] = (ServiceReloaded, ReloadFailed, WorkspaceReloaded)
"""The events that are the outcome of a reload (``ReloadStarted`` is only progress)."""


class ReloadHistory:
    """Appends outcome events to the history file and trims it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: Event) -> bool:
        """Append ``event`` if it is an outcome; True when it was written. A line is written
        with one ``write`` call in append mode, so a reader never sees half of it."""
        if not isinstance(event, HISTORY_KINDS):
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event.to_dict(), separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line)
        return True

    def trim(self, keep: int = KEEP_LINES) -> int:
        """Keep the newest ``keep`` lines (atomically replaced); return how many were dropped."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return 0
        dropped = max(0, len(lines) - keep)
        if dropped:
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text("".join(lines[dropped:]), encoding="utf-8")
            os.replace(temporary, self.path)
        return dropped
