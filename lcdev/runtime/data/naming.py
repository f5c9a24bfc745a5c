"""Names in PostgreSQL: the schema of a service, the table of an entity, constraint and index
names, and identifier quoting.

Every identifier lcdev writes into SQL comes from the definition and is quoted with
:func:`quote`, so reserved words (``order``) and mixed case are safe. PostgreSQL truncates
identifiers to 63 bytes; names that would be longer are shortened deterministically (a prefix
and a hash), so the same definition always yields the same names and migrations stay no-ops.
"""

from __future__ import annotations

import hashlib
import re

from lcdev.definitions import ServiceDefinition

__all__ = [
    "MAX_IDENTIFIER",
    "SYSTEM_TABLES",
    "check_name",
    "foreign_key_name",
    "index_name",
    "quote",
    "schema_name",
    "short_name",
    "table_name",
    "unique_name",
]

MAX_IDENTIFIER = 63
SYSTEM_TABLES = (
    "lcdev_outbox", "lcdev_consumer_offsets", "lcdev_processed_events", "lcdev_dead_letters",
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def schema_name(service: ServiceDefinition | str) -> str:
    """The Postgres schema of a service: its name with ``-`` replaced by ``_``.

    Accepts a ``ServiceDefinition`` or a service name.
    """
    name = service if isinstance(service, str) else service.name
    return name.replace("-", "_")


def table_name(entity_name: str) -> str:
    """snake_case of an entity name: ``Order`` -> ``order``, ``OrderLine`` -> ``order_line``,
    ``HTTPCall`` -> ``http_call``."""
    return _CAMEL.sub("_", entity_name).lower()


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def short_name(name: str) -> str:
    """``name`` if it fits in 63 bytes, else a prefix of it plus a hash of the whole."""
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return name.encode()[: MAX_IDENTIFIER - 9].decode(errors="ignore") + "_" + digest


def unique_name(table: str, field: str) -> str:
    """Name of the UNIQUE constraint of a ``unique: true`` field."""
    return short_name(f"uq_{table}_{field}")


def foreign_key_name(table: str, field: str) -> str:
    """Name of the foreign key of a ``ref`` field."""
    return short_name(f"fk_{table}_{field}")


def check_name(table: str, field: str, expression: str) -> str:
    """Name of the CHECK constraint of a field; it ends with a hash of the expression, so a
    changed rule (a new enum value, another bound) is a new name that migrations can see."""
    digest = hashlib.sha1(expression.encode()).hexdigest()[:8]
    prefix = short_name(f"ck_{table}_{field}")[: MAX_IDENTIFIER - 9]
    return f"{prefix}_{digest}"


def index_name(table: str, fields: list[str] | tuple[str, ...], declared: str | None = None) -> str:
    """Name of an index: the declared one, else ``ix_<table>_<field>_<field>``."""
    return short_name(declared or f"ix_{table}_{'_'.join(fields)}")
