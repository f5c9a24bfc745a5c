"""Errors raised by the events part of the runtime.

- :class:`EventDefinitionError`: the service definition asks for something the runtime cannot
  do (a ``map`` naming a field the row lacks, a consumed event whose topic is unknown). It is a
  programming error in the YAML: raised when the publisher/consumer is built, or by the write
  that triggered it, so the write's transaction rolls back and nothing is stored.
- :class:`EventPayloadError`: a payload does not match the event's declared fields. Raised by
  ``enqueue`` (nothing is enqueued; the caller's transaction should roll back).
- :class:`ActionRejected`: raised by a consumer action that refuses an event for good; the
  consumer dead-letters the record at once instead of retrying it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ActionRejected", "EventDefinitionError", "EventPayloadError"]


class EventDefinitionError(Exception):
    """A ``publishes``/``consumes`` definition the runtime cannot serve."""


class EventPayloadError(ValueError):
    """A payload that does not match the declared fields of its event."""

    def __init__(self, event: str, problems: Sequence[str]) -> None:
        self.event = event
        self.problems = list(problems)
        super().__init__(f"payload of event '{event}' does not match its declared fields: "
                         + "; ".join(self.problems))


class ActionRejected(Exception):
    """An action refuses an event permanently (bad data): dead-lettered without retries."""
