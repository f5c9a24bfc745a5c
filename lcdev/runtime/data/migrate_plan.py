"""Turn Alembic's autogenerate operations into planned changes: each one described in plain
words, marked additive or destructive from the live data (row counts), ready to apply.

Alembic does not compare CHECK constraints, so :func:`plan_checks` complements it for the
checks lcdev owns: their names carry a hash of the rule (see ``naming.check_name``), so a
changed rule is a missing name plus a stale one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.operations import ops as aops
from sqlalchemy.engine import Connection

from lcdev.runtime.data.model import EntityModel
from lcdev.runtime.data.naming import quote

__all__ = ["PlannedChange", "plan_checks", "plan_operations"]


@dataclass
class PlannedChange:
    """One change to the schema: what it does in plain words and how to apply it."""

    description: str
    destructive: bool
    apply: Callable[[Operations], None]


def _invoke(op: aops.MigrateOperation) -> Callable[[Operations], None]:
    return lambda operations: operations.invoke(op)


def _count(conn: Connection, schema: str, table: str, where: str = "TRUE") -> int:
    sql = f"SELECT count(*) FROM {quote(schema)}.{quote(table)} WHERE {where}"
    return int(conn.exec_driver_sql(sql).scalar_one())


def _rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _type_text(conn: Connection, type_: Any) -> str:
    return str(type_.compile(dialect=conn.dialect))


def _widens(old: Any, new: Any) -> bool:
    """True when every value of type ``old`` fits in ``new`` unchanged."""
    if isinstance(new, sa.Text) and isinstance(old, sa.String):
        return True
    if isinstance(new, sa.String) and isinstance(old, sa.String) and not isinstance(old, sa.Text):
        return new.length is None or (old.length is not None and new.length >= old.length)
    if isinstance(new, sa.Numeric) and isinstance(old, sa.Numeric):
        if new.precision is None:
            return True
        if old.precision is None:
            return False
        old_scale, new_scale = old.scale or 0, new.scale or 0
        return new_scale >= old_scale and new.precision - new_scale >= old.precision - old_scale
    return isinstance(new, sa.BigInteger) and isinstance(old, sa.Integer)


def _alter(conn: Connection, op: aops.AlterColumnOp) -> PlannedChange:
    schema, table, column = str(op.schema), op.table_name, op.column_name
    where = f"{schema}.{table}.{column}"
    words: list[str] = []
    destructive = False
    if op.modify_type is not None:
        old, new = _type_text(conn, op.existing_type), _type_text(conn, op.modify_type)
        if _widens(op.existing_type, op.modify_type):
            words.append(f"widen column {where} from {old} to {new}")
        else:
            n = _count(conn, schema, table, f"{quote(column)} IS NOT NULL")
            words.append(f"would change the type of column {where} from {old} to {new}"
                         f" ({_rows(n)} have values)")
            destructive = True
            op.kw["postgresql_using"] = f"{quote(column)}::{new}"
    if op.modify_nullable is False:
        n = _count(conn, schema, table, f"{quote(column)} IS NULL")
        if n:
            words.append(f"would make column {where} required ({_rows(n)} have no value)")
            destructive = True
        else:
            words.append(f"make column {where} required")
    elif op.modify_nullable is True:
        words.append(f"make column {where} optional")
    if not words:
        words.append(f"alter column {where}")
    return PlannedChange("; ".join(words), destructive, _invoke(op))


def _table_op(conn: Connection, op: aops.MigrateOperation) -> PlannedChange:
    if isinstance(op, aops.AddColumnOp):
        column, schema = op.column, str(op.schema)
        where = f"{schema}.{op.table_name}.{column.name}"
        if not column.nullable and column.server_default is None:
            n = _count(conn, schema, op.table_name)
            if n:
                return PlannedChange(
                    f"would add required column {where} without a default to a table with"
                    f" {_rows(n)} (give the field a default, or add it as optional first)",
                    True, _invoke(op))
        return PlannedChange(f"add column {where}", False, _invoke(op))
    if isinstance(op, aops.DropColumnOp):
        schema, where = str(op.schema), f"{op.schema}.{op.table_name}.{op.column_name}"
        n = _count(conn, schema, op.table_name, f"{quote(op.column_name)} IS NOT NULL")
        return PlannedChange(f"would drop column {where} ({_rows(n)} have values)", True,
                             _invoke(op))
    if isinstance(op, aops.AlterColumnOp):
        return _alter(conn, op)
    if isinstance(op, aops.CreateIndexOp):
        cols = ", ".join(str(getattr(c, "name", c)) for c in op.columns)
        return PlannedChange(f"create index {op.index_name} on {op.schema}.{op.table_name}"
                             f" ({cols})", False, _invoke(op))
    if isinstance(op, aops.DropIndexOp):
        return PlannedChange(f"drop index {op.schema}.{op.index_name}", False, _invoke(op))
    if isinstance(op, aops.DropConstraintOp):
        return PlannedChange(f"drop constraint {op.constraint_name} of {op.schema}."
                             f"{op.table_name}", False, _invoke(op))
    if isinstance(op, aops.AddConstraintOp):
        name = getattr(op, "constraint_name", None) or "constraint"
        if isinstance(op, aops.CreateForeignKeyOp):  # it names its table the "source"
            schema, table = op.kw.get("source_schema", ""), op.source_table
        else:
            schema, table = getattr(op, "schema", ""), getattr(op, "table_name", "")
        return PlannedChange(f"add {op.constraint_type} constraint {name} to {schema}.{table}",
                             False, _invoke(op))
    return PlannedChange(f"apply {type(op).__name__}", False, _invoke(op))


def plan_operations(conn: Connection, upgrade: aops.UpgradeOps) -> list[PlannedChange]:
    """Describe and classify every operation autogenerate produced."""
    planned: list[PlannedChange] = []
    for op in upgrade.ops:
        if isinstance(op, aops.CreateTableOp):
            planned.append(PlannedChange(f"create table {op.schema}.{op.table_name}", False,
                                         _invoke(op)))
        elif isinstance(op, aops.DropTableOp):
            n = _count(conn, str(op.schema), op.table_name)
            planned.append(PlannedChange(f"would drop table {op.schema}.{op.table_name}"
                                         f" ({_rows(n)})", True, _invoke(op)))
        elif isinstance(op, aops.ModifyTableOps):
            planned.extend(_table_op(conn, sub) for sub in op.ops)
        else:
            planned.append(_table_op(conn, op))
    return planned


def _live_checks(conn: Connection, schema: str) -> dict[str, set[str]]:
    rows = conn.execute(sa.text(
        "SELECT c.relname, con.conname FROM pg_constraint con"
        " JOIN pg_class c ON c.oid = con.conrelid"
        " WHERE con.contype = 'c' AND con.connamespace = to_regnamespace(:schema)"
        " AND starts_with(con.conname, 'ck_')"), {"schema": quote(schema)},
    ).all()
    found: dict[str, set[str]] = {}
    for table, name in rows:
        found.setdefault(str(table), set()).add(str(name))
    return found


def _drop_check(name: str, table: str, schema: str) -> Callable[[Operations], None]:
    def apply(operations: Operations) -> None:
        operations.drop_constraint(name, table, type_="check", schema=schema)

    return apply


def _add_check(name: str, table: str, schema: str, expression: str,
               *, valid: bool) -> Callable[[Operations], None]:
    def apply(operations: Operations) -> None:
        if valid:
            operations.create_check_constraint(name, table, sa.text(expression), schema=schema)
        else:
            operations.execute(sa.text(
                f"ALTER TABLE {quote(schema)}.{quote(table)} ADD CONSTRAINT {quote(name)}"
                f" CHECK ({expression}) NOT VALID"))

    return apply


def plan_checks(conn: Connection, models: list[EntityModel], new_tables: set[str],
                new_columns: set[tuple[str, str]]) -> tuple[list[PlannedChange],
                                                            list[PlannedChange]]:
    """(drops, adds) of lcdev's CHECK constraints on tables that already exist.

    A new rule that existing rows break is destructive; when allowed it is added
    ``NOT VALID`` (enforced for new writes, existing rows kept as they are).
    """
    if not models:
        return [], []
    schema = models[0].schema
    live = _live_checks(conn, schema)
    drops: list[PlannedChange] = []
    adds: list[PlannedChange] = []
    for model in models:
        if model.table in new_tables:
            continue
        existing = live.get(model.table, set())
        for name in sorted(existing - set(model.checks)):
            drops.append(PlannedChange(f"drop rule {name} of {schema}.{model.table}", False,
                                       _drop_check(name, model.table, schema)))
        for name, (field, expression) in model.checks.items():
            if name in existing:
                continue
            where = f"{schema}.{model.table}.{field}"
            broken = 0
            if (model.table, field) not in new_columns:
                broken = _count(conn, schema, model.table, f"NOT ({expression})")
            if broken:
                adds.append(PlannedChange(
                    f"would add rule {expression} on {where} that {_rows(broken)} break"
                    " (existing rows would be kept as they are)", True,
                    _add_check(name, model.table, schema, expression, valid=False)))
            else:
                adds.append(PlannedChange(
                    f"add rule {expression} on {where}", False,
                    _add_check(name, model.table, schema, expression, valid=True)))
    return drops, adds
