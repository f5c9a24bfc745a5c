"""Time-ordered row ids (UUID version 7, RFC 9562).

Rows created through the runtime get ids whose order is their creation order within a
process, so the default list order (``id``) is creation order, child rows come back in the
order they were sent, and primary-key inserts stay at the right edge of the index.
"""

from __future__ import annotations

import os
import random
import time
import uuid

__all__ = ["uuid7"]

_state = {"ms": 0, "seq": 0}
_random = random.Random(os.urandom(32))
# A forked child must not repeat its parent's random bits.
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def uuid7() -> uuid.UUID:
    """A new UUIDv7: 48-bit Unix milliseconds, a 12-bit counter that keeps ids of the same
    millisecond increasing, and 62 random bits."""
    ms = time.time_ns() // 1_000_000
    if ms > _state["ms"]:
        _state["ms"], _state["seq"] = ms, _random.getrandbits(10)
    else:
        _state["seq"] += 1
        if _state["seq"] > 0xFFF:
            _state["ms"] += 1
            _state["seq"] = 0
    value = (
        (_state["ms"] << 80) | (0x7 << 76) | (_state["seq"] << 64) | (0b10 << 62)
        | _random.getrandbits(62)
    )
    return uuid.UUID(int=value)
