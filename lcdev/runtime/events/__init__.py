"""Events: transactional outbox, relay to Kafka, idempotent consumers, dead letters.

- :func:`enqueue` puts an event in the service's outbox in the caller's transaction;
  :func:`change_publisher` is the change hook that does it for entity events (``publishes``
  with ``entity``/``when``/``if``).
- :class:`OutboxRelay` publishes committed outbox rows to Kafka and replays them when the broker
  restarts empty.
- :class:`EventConsumers` applies the records of consumed topics exactly once (offsets and
  processed event ids in the service's schema), dead-lettering bad records.
- :func:`build_actions` implements the declarative actions (insert, upsert, update, call).

See docs/events.md for users, docs/runtime-internals.md for the contracts.
"""

from lcdev.runtime.events.actions import CallEndpoint, ConsumerActions, Repository, build_actions
from lcdev.runtime.events.consumer import EventConsumers
from lcdev.runtime.events.errors import ActionRejected, EventDefinitionError, EventPayloadError
from lcdev.runtime.events.outbox import (
    ChangeHook,
    ChangeKind,
    change_publisher,
    enqueue,
    payload_from_row,
)
from lcdev.runtime.events.relay import OutboxRelay
from lcdev.runtime.events.retry import RetryPolicy
from lcdev.runtime.events.schema import event_key, payload_fields
from lcdev.runtime.events.trace import current_trace_headers, trace_headers, using_trace_headers
from lcdev.runtime.events.wire import jsonable

__all__ = [
    "ActionRejected",
    "CallEndpoint",
    "ChangeHook",
    "ChangeKind",
    "ConsumerActions",
    "EventConsumers",
    "EventDefinitionError",
    "EventPayloadError",
    "OutboxRelay",
    "Repository",
    "RetryPolicy",
    "build_actions",
    "change_publisher",
    "current_trace_headers",
    "enqueue",
    "event_key",
    "jsonable",
    "payload_from_row",
    "payload_fields",
    "trace_headers",
    "using_trace_headers",
]
