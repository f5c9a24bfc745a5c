"""A LISTEN connection taken from the service's pool, re-established when it breaks.

Notifications only make things faster: every user of :class:`Listener` also polls slowly, so
a notification lost while the connection was down delays work by at most one poll.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Listener"]


class Listener:
    """Holds one pooled connection LISTENing on ``channels``; ``on_notify(channel, payload)``
    is called for each notification (on the event loop, so it must not block)."""

    def __init__(self, pool: Any, channels: Sequence[str],
                 on_notify: Callable[[str, str], None]) -> None:
        self._pool = pool
        self._channels = list(channels)
        self._on_notify = on_notify
        self._conn: Any = None

    def _callback(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._on_notify(channel, payload)

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def ensure(self) -> bool:
        """(Re)connect when needed; True when it had to (notifications may have been lost)."""
        if self.connected:
            return False
        await self.close()
        conn = await self._pool.acquire()
        try:
            for channel in self._channels:
                await conn.add_listener(channel, self._callback)
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn = conn
        return True

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            if not conn.is_closed():
                for channel in self._channels:
                    await conn.remove_listener(channel, self._callback)
        with contextlib.suppress(Exception):
            await self._pool.release(conn)
