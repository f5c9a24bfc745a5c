"""The OTLP/HTTP receiver: decode OTLP exports into records, serve them, forward them on.

- ``decode``: protobuf/JSON (gzip'd or not) ``Export*ServiceRequest`` → ``records``.
- ``receiver``: ``OtlpReceiver`` (uvicorn in the caller's loop) and ``build_receiver_app``.
- ``forward``: ``Forwarder``, re-sends accepted payloads to another collector.

Names are re-exported lazily so that importing one part (say, ``forward``, which needs only
the standard library) does not pay for starlette, uvicorn and protobuf.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lcdev.telemetry.otlp.counters import ReceiverStats
    from lcdev.telemetry.otlp.decode import (
        OtlpDecodeError,
        decode_logs,
        decode_metrics,
        decode_payload,
        decode_traces,
    )
    from lcdev.telemetry.otlp.forward import Forwarder, ForwarderStats
    from lcdev.telemetry.otlp.receiver import OtlpReceiver, build_receiver_app

__all__ = [
    "Forwarder",
    "ForwarderStats",
    "OtlpDecodeError",
    "OtlpReceiver",
    "ReceiverStats",
    "build_receiver_app",
    "decode_logs",
    "decode_metrics",
    "decode_payload",
    "decode_traces",
]

_HOMES = {
    "Forwarder": "forward", "ForwarderStats": "forward",
    "OtlpDecodeError": "decode", "decode_logs": "decode", "decode_metrics": "decode",
    "decode_payload": "decode", "decode_traces": "decode",
    "OtlpReceiver": "receiver", "build_receiver_app": "receiver",
    "ReceiverStats": "counters",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
