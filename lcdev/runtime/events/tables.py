"""Names of a service's event tables and notification channels (docs/runtime-internals.md).

The tables themselves are created by the data layer's migration; this module only names them:
``<schema>.lcdev_outbox``, ``lcdev_consumer_offsets``, ``lcdev_processed_events`` and
``lcdev_dead_letters``, where the schema is the service name with ``-`` replaced by ``_``.

``lcdev_dead_letters.code`` (events/handling.py ``DeadLetterCode``) came after the first
release: the data layer's schema declares it with a default and its format version
(``_FORMAT`` in data/migrate.py) was bumped, so an existing workspace's next start compares
its schema again and adds the column (an additive change, once).
"""

from __future__ import annotations

from dataclasses import dataclass

from lcdev.definitions import ServiceDefinition

__all__ = ["EventTables", "quote_ident"]


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class EventTables:
    """Qualified, quoted names of one service's event tables."""

    schema: str

    @classmethod
    def of(cls, service: ServiceDefinition) -> EventTables:
        return cls(service.name.replace("-", "_"))

    def _table(self, name: str) -> str:
        return f"{quote_ident(self.schema)}.{name}"

    @property
    def outbox(self) -> str:
        return self._table("lcdev_outbox")

    @property
    def offsets(self) -> str:
        return self._table("lcdev_consumer_offsets")

    @property
    def processed(self) -> str:
        return self._table("lcdev_processed_events")

    @property
    def dead_letters(self) -> str:
        return self._table("lcdev_dead_letters")

    @property
    def outbox_channel(self) -> str:
        """NOTIFY channel woken on commit of a transaction that enqueued events."""
        return f"lcdev_outbox.{self.schema}"

    @property
    def relay_lock(self) -> str:
        """Text hashed to the advisory lock that lets one relay of the schema publish at a time."""
        return f"lcdev_relay.{self.schema}"
