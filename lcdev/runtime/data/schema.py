"""SQLAlchemy Core tables of a service: one per entity, plus lcdev's four system tables.

This is the desired state that migrations compare the live schema with. Type mapping (see
docs/runtime-internals.md): string -> varchar(max_length) or text, text -> text, integer ->
bigint, decimal -> numeric(precision, scale), boolean, uuid, datetime -> timestamptz, date,
enum -> text + CHECK of the values, json -> jsonb, ref -> uuid + foreign key. ``min``/``max``
and enum values are CHECK constraints, ``unique`` a UNIQUE constraint, indexes as declared.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from lcdev.definitions import FieldDefinition, ServiceDefinition
from lcdev.runtime.data.model import EntityModel, entity_model
from lcdev.runtime.data.naming import (
    foreign_key_name,
    index_name,
    schema_name,
    table_name,
    unique_name,
)

__all__ = ["build_metadata", "column_type", "schema_name", "table_name"]

_ON_DELETE = {"restrict": "RESTRICT", "cascade": "CASCADE", "set_null": "SET NULL"}
_NOW = sa.text("now()")


def column_type(definition: FieldDefinition) -> sa.types.TypeEngine[Any]:
    """The column type of a field."""
    t = definition.type
    if t == "string":
        return sa.String(definition.max_length) if definition.max_length else sa.Text()
    if t == "decimal":
        if definition.precision is None:
            return sa.Numeric()
        return sa.Numeric(definition.precision, definition.scale or 0)
    simple: dict[str, sa.types.TypeEngine[Any]] = {
        "text": sa.Text(), "integer": sa.BigInteger(), "boolean": sa.Boolean(),
        "uuid": pg.UUID(as_uuid=True), "datetime": sa.DateTime(timezone=True),
        "date": sa.Date(), "enum": sa.Text(), "json": pg.JSONB(), "ref": pg.UUID(as_uuid=True),
    }
    return simple[t]


def _server_default(definition: FieldDefinition) -> Any:
    value = definition.default
    if value is None:
        return None
    if value == "now":
        return _NOW if definition.type == "datetime" else sa.text("CURRENT_DATE")
    if definition.type == "json":
        return orjson.dumps(value).decode()
    if definition.type == "boolean":
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _entity_table(metadata: sa.MetaData, model: EntityModel) -> sa.Table:
    table, schema = model.table, model.schema
    items: list[Any] = [
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True,
                  server_default=sa.text("gen_random_uuid()")),
    ]
    for name, f in model.declared.items():
        args: list[Any] = []
        if f.type == "ref":
            target = table_name(str(f.entity))
            args.append(sa.ForeignKey(
                f"{schema}.{target}.id", name=foreign_key_name(table, name),
                ondelete=_ON_DELETE[f.on_delete],
            ))
        items.append(sa.Column(
            name, column_type(f), *args, nullable=not f.required,
            server_default=_server_default(f),
        ))
        if f.unique:
            items.append(sa.UniqueConstraint(name, name=unique_name(table, name)))
        if f.index:
            items.append(sa.Index(index_name(table, [name]), name))
    if model.timestamps:
        for name in ("created_at", "updated_at"):
            items.append(sa.Column(name, sa.DateTime(timezone=True), nullable=False,
                                   server_default=_NOW))
    for cname, (_field, expression) in model.checks.items():
        items.append(sa.CheckConstraint(expression, name=cname))
    for index in model.definition.indexes:
        items.append(sa.Index(
            index_name(table, index.fields, index.name), *index.fields, unique=index.unique,
        ))
    return sa.Table(table, metadata, *items, schema=schema)


def _system_tables(metadata: sa.MetaData, schema: str) -> None:
    uuid, text, jsonb = pg.UUID(as_uuid=True), sa.Text(), pg.JSONB()
    tstz = sa.DateTime(timezone=True)
    outbox = sa.Table(
        "lcdev_outbox", metadata,
        sa.Column("id", uuid, primary_key=True),
        sa.Column("event", text, nullable=False),
        sa.Column("topic", text, nullable=False),
        sa.Column("key", text),
        sa.Column("payload", jsonb, nullable=False),
        sa.Column("headers", jsonb, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", tstz, nullable=False, server_default=_NOW),
        sa.Column("published_at", tstz, nullable=True),
        schema=schema,
    )
    sa.Index("ix_lcdev_outbox_unpublished", outbox.c.published_at,
             postgresql_where=outbox.c.published_at.is_(None))
    sa.Index("ix_lcdev_outbox_created_at", outbox.c.created_at)
    sa.Table(
        "lcdev_consumer_offsets", metadata,
        sa.Column("topic", text, primary_key=True),
        sa.Column("partition", sa.Integer(), primary_key=True),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        schema=schema,
    )
    sa.Table(
        "lcdev_processed_events", metadata,
        sa.Column("event_id", uuid, primary_key=True),
        sa.Column("consumer", text, nullable=False),
        sa.Column("processed_at", tstz, nullable=False, server_default=_NOW),
        schema=schema,
    )
    sa.Table(
        "lcdev_dead_letters", metadata,
        sa.Column("id", uuid, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("topic", text),
        sa.Column("partition", sa.Integer()),
        sa.Column("offset", sa.BigInteger()),
        sa.Column("event_id", uuid, nullable=True),
        sa.Column("event", text),
        sa.Column("payload", text, nullable=False),
        sa.Column("headers", jsonb),
        sa.Column("reason", text, nullable=False),
        # why, as a code (events/handling.py DeadLetterCode); a default, so adding it to an
        # existing table is an additive migration
        sa.Column("code", text, nullable=False, server_default=sa.text("'failed'")),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", tstz, server_default=_NOW),
        schema=schema,
    )


def build_metadata(service: ServiceDefinition) -> sa.MetaData:
    """Tables of every entity of ``service`` and the system tables, all in its own schema.

    Raises ``ValueError`` when an entity's table name clashes with a system table.
    """
    metadata = sa.MetaData()
    for name in service.entities:
        _entity_table(metadata, entity_model(service, name))
    _system_tables(metadata, schema_name(service))
    return metadata
