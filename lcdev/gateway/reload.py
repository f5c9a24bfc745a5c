"""Live reconfiguration: reload the configuration file when it changes.

The file is checked every ``interval_s`` (a ``stat``, nothing more) and on demand (SIGHUP). A
file that fails to load is reported and the running configuration stays; the next change is
tried again. The supervisor writes the file atomically (``write_config``), so a reload never
sees half of it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from lcdev.gateway.schema import GatewayConfig, load_config

__all__ = ["ConfigWatcher"]

Stamp = tuple[int, int, int] | None


class ConfigWatcher:
    """Calls ``on_config`` with each new valid configuration, ``on_error`` with problems."""

    def __init__(self, path: Path, on_config: Callable[[GatewayConfig], None],
                 on_error: Callable[[str], None], interval_s: float = 0.25) -> None:
        self.path = path
        self.on_config, self.on_error = on_config, on_error
        self.interval_s = interval_s
        self.stamp = self._stamp()

    def _stamp(self) -> Stamp:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def check(self, *, force: bool = False) -> bool:
        """Reload if the file changed (or ``force``); True when a new config was applied."""
        stamp = self._stamp()
        if stamp == self.stamp and not force:
            return False
        self.stamp = stamp
        if stamp is None:
            self.on_error(f"{self.path} is missing; keeping the running configuration")
            return False
        try:
            config = load_config(self.path)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()
            self.on_error(f"{self.path} is not a valid gateway configuration"
                          f" ({' '.join(first[:3])}); keeping the running configuration")
            return False
        self.on_config(config)
        return True

    async def run(self) -> None:
        """Check every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            self.check()
