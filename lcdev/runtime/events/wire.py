"""Events on the wire: JSON values, the envelope, Kafka headers, names of channels.

A record's value is ``{"id", "event", "source", "time", "data"}`` (UTF-8 JSON), its key the
event's key value, its headers ``lcdev-event-id``, ``lcdev-event`` and, when known,
``traceparent``/``tracestate``. Decimals travel as JSON strings (``"12.50"``) to keep their
precision; uuids, datetimes (RFC 3339) and dates as strings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "EVENTS_CHANNEL",
    "HEADER_EVENT",
    "HEADER_EVENT_ID",
    "REPLAY_PREFIX",
    "Envelope",
    "EnvelopeError",
    "decode_envelope",
    "encode_envelope",
    "header_map",
    "jsonable",
    "kafka_headers",
]

HEADER_EVENT_ID = "lcdev-event-id"
HEADER_EVENT = "lcdev-event"
EVENTS_CHANNEL = "lcdev_events"
"""PostgreSQL NOTIFY channel on which relays announce a topic that just got records (payload:
the topic) or is being re-published from its start (payload: ``replay:<topic>``)."""
REPLAY_PREFIX = "replay:"


def jsonable(value: Any) -> Any:
    """``value`` with every uuid, decimal, datetime and date as a JSON string (recursively)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} in an event: {value!r}")


def encode_envelope(event_id: uuid.UUID, event: str, source: str, time: dt.datetime,
                    payload_json: str) -> bytes:
    """The record value; ``payload_json`` is the payload already serialised (from jsonb)."""
    head = orjson.dumps({"id": str(event_id), "event": event, "source": source,
                         "time": time.isoformat()})
    return head[:-1] + b',"data":' + payload_json.encode() + b"}"


def kafka_headers(event_id: uuid.UUID, event: str,
                  headers: Mapping[str, str]) -> list[tuple[str, bytes]]:
    """Kafka headers of a record: the stored headers, then the event's id and name."""
    pairs = [(k, str(v).encode()) for k, v in headers.items()
             if k not in (HEADER_EVENT_ID, HEADER_EVENT)]
    return [*pairs, (HEADER_EVENT_ID, str(event_id).encode()), (HEADER_EVENT, event.encode())]


def header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    """Kafka headers as a dict of strings (the last value of a repeated name wins)."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in headers or ()}


class EnvelopeError(ValueError):
    """A record that is not an lcdev event; the message says what is wrong with it."""


@dataclass(frozen=True)
class Envelope:
    """A decoded event record."""

    id: uuid.UUID
    event: str
    source: str | None
    time: str | None
    data: dict[str, Any]


def decode_envelope(value: bytes | None) -> Envelope:
    """Parse and check a record value; raises :class:`EnvelopeError` naming the problem."""
    if value is None:
        raise EnvelopeError("the record has no value (expected a JSON event envelope)")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"the record value is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EnvelopeError(f"the record value is a JSON {type(doc).__name__}, expected an"
                            " object {id, event, source, time, data}")
    missing = [k for k in ("id", "event", "data") if k not in doc]
    if missing:
        raise EnvelopeError(f"the envelope lacks {', '.join(repr(k) for k in missing)}")
    try:
        event_id = uuid.UUID(str(doc["id"]))
    except ValueError:
        raise EnvelopeError(f"the envelope's id {doc['id']!r} is not a UUID") from None
    if not isinstance(doc["event"], str):
        raise EnvelopeError(f"the envelope's event {doc['event']!r} is not a string")
    if not isinstance(doc["data"], dict):
        raise EnvelopeError("the envelope's data is not a JSON object")
    source, time = doc.get("source"), doc.get("time")
    return Envelope(event_id, doc["event"], source if isinstance(source, str) else None,
                    time if isinstance(time, str) else None, doc["data"])
