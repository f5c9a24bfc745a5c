"""Where a workspace keeps its state: ``.lcdev/`` under the workspace root.

``data/`` survives ``down`` and is wiped by ``down -v``; ``run/`` holds the supervisor's lock,
socket and pid records and is cleared whenever the supervisor stops; ``telemetry/`` holds the
store of logs, traces and metrics (survives ``down``, wiped by ``down -v``); ``logs/`` keeps the
supervisor's own log for post-mortems.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WorkspaceLayout", "find_workspace_root"]

_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


@dataclass(frozen=True)
class WorkspaceLayout:
    """Paths of one workspace's state directory."""

    root: Path

    @property
    def state_dir(self) -> Path:
        return self.root / ".lcdev"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def telemetry_dir(self) -> Path:
        return self.state_dir / "telemetry"

    @property
    def telemetry_db(self) -> Path:
        """The SQLite store of logs, spans and metric points (see docs/telemetry-internals.md)."""
        return self.telemetry_dir / "telemetry.db"

    @property
    def reloads_file(self) -> Path:
        """The reload history: one ``ServiceReloaded``/``ReloadFailed``/``WorkspaceReloaded``
        event per line (``Event.to_dict`` JSON), appended by the supervisor, read by
        ``lcdev reloads``; wiped with the telemetry by ``down -v``."""
        return self.telemetry_dir / "reloads.ndjson"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "supervisor.lock"

    @property
    def supervisor_file(self) -> Path:
        """JSON record of the running supervisor: pid, socket, backend, start time."""
        return self.run_dir / "supervisor.json"

    @property
    def children_file(self) -> Path:
        """JSON record of child pids, so a crashed supervisor's orphans can be cleaned up."""
        return self.run_dir / "children.json"

    @property
    def supervisor_log(self) -> Path:
        return self.logs_dir / "supervisor.log"

    @property
    def socket_path(self) -> Path:
        """The control API's unix socket; moved to the temp dir when the path is too long."""
        candidate = self.run_dir / "control.sock"
        if len(os.fsencode(candidate)) <= _MAX_SOCKET_PATH:  # sun_path counts bytes
            return candidate
        digest = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"lcdev-{digest}.sock"

    def component_data(self, name: str) -> Path:
        return self.data_dir / name


def find_workspace_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` upward that holds ``lcdev.yaml`` (like git).

    Kept here, free of the definitions model, so commands that only talk to a running
    supervisor start fast."""
    current = start.resolve()
    for folder in (current, *current.parents):
        if (folder / "lcdev.yaml").is_file():
            return folder
    return None
