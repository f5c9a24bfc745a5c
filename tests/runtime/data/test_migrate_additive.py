"""The additive migration of a reload (``migrate(..., previous=...)``) against a real
PostgreSQL: what it applies, that it leaves exactly the schema the full Alembic comparison
leaves, and that everything that is not only adding still goes through the full path."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from lcdev.runtime.data import DestructiveChangeRefused, MigrationFailed, MigrationReport, migrate
from lcdev.runtime.data.migrate import definition_fingerprint
from lcdev.runtime.data.migrate_additive import apply_additive, plan_additive
from tests.runtime.data.helpers import service_from_yaml, unique_name, with_conn

BASE = """
name: {name}
entities:
  Customer:
    fields:
      name: string(40)!
  Order:
    fields:
      total: decimal(12, 2)!
      status: enum(new, paid) = new
      reason: text
"""
NOTE = BASE + "      note: string(40)\n"
DEFAULTS = NOTE + "      count: integer! = 0\n      label: string = 10%\n"
REF = DEFAULTS + ("      customer: {type: ref, entity: Customer, index: true}\n"
                  "      kind: enum(a, b)\n")
ENTITY = REF + """    indexes:
      - [status, reason]
  Line:
    fields:
      order: {type: ref, entity: Order, required: true, on_delete: cascade}
      sku: {type: string, max_length: 9, index: true}
      qty: {type: integer, min: 1}
      code: {type: string, unique: true}
    indexes:
      - [sku, qty]
"""
DESCRIBED = ENTITY.replace("      note: string(40)\n",
                           "      note: {type: string, max_length: 40, description: why}\n")
REQUIRED_ON_EMPTY = DESCRIBED.replace("unique: true}\n", "unique: true}\n      title: text!\n")
RELATED = REQUIRED_ON_EMPTY.replace(
    "      kind: enum(a, b)\n", "      kind: enum(a, b)\n      zeta: ref(Zeta)\n",
) + """  Alpha:
    fields:
      zeta: ref(Zeta)!
  Zeta:
    fields:
      parent: ref(Zeta)
      x: integer = 7
"""
EDITS = [NOTE, DEFAULTS, REF, ENTITY, DESCRIBED, REQUIRED_ON_EMPTY, RELATED]
"""Each edit adds to the one before: optional fields, defaults, a ref and a rule, an entity
with indexes, a description (no statement at all), a required field on an empty table,
entities referring to each other and an existing table referring to a new one."""

CUSTOMER_ID = uuid.UUID(int=12)
ORDER_ID = uuid.UUID(int=10)
STAMP = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def _migrate(dsn: str, text: str, name: str, previous: str | None = None,
             **kw: Any) -> MigrationReport:
    before = None if previous is None else service_from_yaml(previous, name)
    return asyncio.run(migrate(dsn, service_from_yaml(text, name), previous=before, **kw))


def _execute(dsn: str, sql: str, *args: Any) -> Any:
    return asyncio.run(with_conn(dsn, lambda conn: conn.fetch(sql, *args)))


def _with_rows(dsn: str, name: str) -> None:
    """The base schema with the same rows (ids and times included) as any other."""
    _migrate(dsn, BASE, name)
    _execute(dsn, f'INSERT INTO "{name}".customer VALUES ($1, \'Ada\', $2, $2)',
             CUSTOMER_ID, STAMP)
    _execute(dsn, f'INSERT INTO "{name}"."order" (id, total, reason, created_at, updated_at)'
             " VALUES ($1, 5, 'r', $2, $2)", ORDER_ID, STAMP)


async def _snapshot(conn: asyncpg.Connection, schema: str) -> dict[str, Any]:
    """Tables, columns, constraints, indexes and rows of ``schema``, the schema's name
    replaced by ``S`` (so two schemas can be compared)."""
    columns = await conn.fetch(
        "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length,"
        " numeric_precision, numeric_scale, is_nullable, column_default"
        " FROM information_schema.columns WHERE table_schema = $1"
        " ORDER BY table_name, ordinal_position", schema)
    constraints = await conn.fetch(
        "SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) AS def,"
        " con.convalidated FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
        " WHERE con.connamespace = $1::regnamespace ORDER BY 1, 2", schema)
    indexes = await conn.fetch("SELECT tablename, indexname, indexdef FROM pg_indexes"
                               " WHERE schemaname = $1 ORDER BY 1, 2", schema)
    rows = {}
    for table in sorted({r["table_name"] for r in columns}):
        found = await conn.fetch(f'SELECT to_jsonb(t) AS row FROM "{schema}"."{table}" t'
                                 " ORDER BY 1")
        rows[table] = [r["row"] for r in found]
    snapshot = {"columns": [tuple(r) for r in columns],
                "constraints": [tuple(r) for r in constraints],
                "indexes": [tuple(r) for r in indexes], "rows": rows}
    return json.loads(json.dumps(snapshot, default=str).replace(schema, "S"))


def _schema(dsn: str, name: str) -> dict[str, Any]:
    return asyncio.run(with_conn(dsn, lambda conn: _snapshot(conn, name)))


def _comment(dsn: str, name: str) -> str | None:
    rows = _execute(dsn, "SELECT obj_description($1::regnamespace, 'pg_namespace') AS c", name)
    comment: str | None = rows[0]["c"]
    return comment


def test_additive_edits_leave_the_schema_the_full_comparison_leaves(pg_dsn: str) -> None:
    fast, full = unique_name(), unique_name()
    _with_rows(pg_dsn, fast)
    _with_rows(pg_dsn, full)
    previous = BASE
    for text in EDITS:
        quick = _migrate(pg_dsn, text, fast, previous=previous)
        compared = _migrate(pg_dsn, text, full)
        assert (quick.path, compared.path) == ("additive", "compared")
        assert [c.replace(fast, "S") for c in quick.changes] == [
            c.replace(full, "S") for c in compared.changes]
        assert _schema(pg_dsn, fast) == _schema(pg_dsn, full)
        assert _comment(pg_dsn, fast) == definition_fingerprint(service_from_yaml(text, fast))
        previous = text
    again = _migrate(pg_dsn, EDITS[-1], fast, previous=previous)
    assert (again.path, again.changes) == ("up_to_date", ())


def test_optional_field_is_added_in_one_step(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    report = _migrate(pg_dsn, NOTE, name, previous=BASE)
    assert report.path == "additive"
    assert report.changes == (f"add column {name}.order.note",)
    assert report.destructive == ()
    rows = _execute(pg_dsn, f'SELECT note, total FROM "{name}"."order"')
    assert [tuple(r) for r in rows] == [(None, 5)]


def test_fields_with_defaults_fill_existing_rows(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    report = _migrate(pg_dsn, DEFAULTS, name, previous=BASE)
    assert report.changes == (f"add column {name}.order.note", f"add column {name}.order.count",
                              f"add column {name}.order.label")
    rows = _execute(pg_dsn, f'SELECT count, label FROM "{name}"."order"')
    assert [tuple(r) for r in rows] == [(0, "10%")]
    with pytest.raises(asyncpg.NotNullViolationError):
        _execute(pg_dsn, f'INSERT INTO "{name}"."order" (total, count) VALUES (1, NULL)')


def test_entity_with_ref_and_indexes_is_created(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    _migrate(pg_dsn, REF, name, previous=BASE)
    report = _migrate(pg_dsn, ENTITY, name, previous=REF)
    assert report.changes == (
        f"create table {name}.line", f"create index ix_line_sku on {name}.line (sku)",
        f"create index ix_line_sku_qty on {name}.line (sku, qty)",
        f"create index ix_order_status_reason on {name}.order (status, reason)")
    _execute(pg_dsn, f'INSERT INTO "{name}".line ("order", sku, qty) VALUES ($1, \'x\', 1)',
             ORDER_ID)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        _execute(pg_dsn, f'INSERT INTO "{name}".line ("order", qty) VALUES ($1, 1)', CUSTOMER_ID)
    with pytest.raises(asyncpg.CheckViolationError):
        _execute(pg_dsn, f'INSERT INTO "{name}".line ("order", qty) VALUES ($1, 0)', ORDER_ID)
    _execute(pg_dsn, f'DELETE FROM "{name}"."order"')
    assert _execute(pg_dsn, f'SELECT * FROM "{name}".line') == []  # on_delete: cascade


def test_a_new_entity_gets_its_seed_rows(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    colours = BASE + "  Colour:\n    fields:\n      label: text!\n    seed:\n      - {label: red}\n"
    report = _migrate(pg_dsn, colours, name, previous=BASE)
    assert (report.path, report.changes) == ("additive", (f"create table {name}.colour",))
    assert report.seeded == {"Colour": 1}
    assert [r["label"] for r in _execute(pg_dsn, f'SELECT label FROM "{name}".colour')] == ["red"]


def test_required_field_without_default_on_rows_goes_to_the_full_path(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    with pytest.raises(DestructiveChangeRefused) as refused:
        _migrate(pg_dsn, BASE + "      must: text!\n", name, previous=BASE)
    assert refused.value.changes == [
        f"would add required column {name}.order.must without a default to a table with 1 row"
        " (give the field a default, or add it as optional first)"]
    assert _comment(pg_dsn, name) == definition_fingerprint(service_from_yaml(BASE, name))


def test_a_drop_is_refused_as_before(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    before = _schema(pg_dsn, name)
    narrower = BASE.replace("      reason: text\n", "      extra: text\n")
    with pytest.raises(DestructiveChangeRefused) as refused:
        _migrate(pg_dsn, narrower, name, previous=BASE)
    assert refused.value.changes == [f"would drop column {name}.order.reason (1 row have values)"]
    assert _schema(pg_dsn, name) == before


@pytest.mark.parametrize("edit", ["comment", "table"])
def test_a_schema_that_is_not_the_previous_definition_is_compared(pg_dsn: str,
                                                                   edit: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    if edit == "comment":
        _execute(pg_dsn, f'COMMENT ON SCHEMA "{name}" IS \'lcdev:someone else\'')
    else:
        _execute(pg_dsn, f'DROP TABLE "{name}".customer')
    report = _migrate(pg_dsn, NOTE, name, previous=BASE)
    assert report.path == "compared"
    assert f"add column {name}.order.note" in report.changes
    assert (f"create table {name}.customer" in report.changes) == (edit == "table")
    assert _comment(pg_dsn, name) == definition_fingerprint(service_from_yaml(NOTE, name))


@pytest.mark.parametrize("edit", [
    pytest.param(BASE + "      code: {type: string, unique: true}\n", id="unique field"),
    pytest.param(BASE + "    indexes:\n      - {fields: [reason], unique: true}\n",
                 id="unique index"),
    pytest.param(BASE.replace("enum(new, paid)", "enum(new, paid, sent)"), id="changed rule"),
    pytest.param(BASE.replace("string(40)!", "string(20)!"), id="changed type"),
    pytest.param(BASE.replace("string(40)!", "string(40)"), id="now optional"),
    pytest.param(BASE.replace("status: enum(new, paid) = new", "status: enum(new, paid)"),
                 id="default removed"),
    pytest.param(BASE.replace("      reason: text\n", ""), id="dropped field"),
    pytest.param(BASE.split("  Order:")[0], id="dropped entity"),
    pytest.param(BASE.replace("total: decimal(12, 2)!",
                              "total: {type: decimal, precision: 12, scale: 2, min: 0}"),
                 id="rule on an existing field"),
    pytest.param(BASE.replace("name: string(40)!", "name: string(40)!\n      o: ref(Order)")
                 + "  Tag:\n    fields:\n      a: ref(Mark)\n"
                 + "  Mark:\n    fields:\n      b: ref(Tag)\n", id="new tables in a cycle"),
])
def test_changes_that_are_not_only_adding_are_left_to_the_full_path(edit: str) -> None:
    assert plan_additive(service_from_yaml(BASE, "s"), service_from_yaml(edit, "s")) is None


def test_a_description_needs_no_statement() -> None:
    plan = plan_additive(service_from_yaml(ENTITY, "s"), service_from_yaml(DESCRIBED, "s"))
    assert plan is not None
    assert plan.steps == ()


def test_new_tables_are_created_after_those_they_refer_to() -> None:
    plan = plan_additive(service_from_yaml(REQUIRED_ON_EMPTY, "s"), service_from_yaml(RELATED, "s"))
    assert plan is not None
    assert [step.description for step in plan.steps] == [
        "create table s.zeta", "create table s.alpha", "add column s.order.zeta",
        "add foreignkey constraint fk_order_zeta to s.order"]


def test_a_statement_the_database_refuses_changes_nothing(pg_dsn: str) -> None:
    """The comment trusts that nobody changed the schema by hand; if someone did, the
    database's refusal is reported like the full path's and the transaction rolled back."""
    name = unique_name()
    _with_rows(pg_dsn, name)
    _execute(pg_dsn, f'CREATE INDEX ix_order_note ON "{name}"."order" (reason)')
    before = _schema(pg_dsn, name)
    indexed = BASE + "      note: {type: text, index: true}\n"
    with pytest.raises(MigrationFailed) as failed:
        _migrate(pg_dsn, indexed, name, previous=BASE)
    assert failed.value.change == f"create index ix_order_note on {name}.order (note)"
    assert 'relation "ix_order_note" already exists' in failed.value.reason
    assert _schema(pg_dsn, name) == before
    assert _comment(pg_dsn, name) == definition_fingerprint(service_from_yaml(BASE, name))


def test_a_schema_migrated_meanwhile_is_left_to_the_full_path(pg_dsn: str) -> None:
    """Under the lock the comment is read again: another migration in between wins."""
    name = unique_name()
    _with_rows(pg_dsn, name)
    base, new = service_from_yaml(BASE, name), service_from_yaml(NOTE, name)
    plan = plan_additive(base, new)
    assert plan is not None
    _execute(pg_dsn, f'COMMENT ON SCHEMA "{name}" IS \'lcdev:another\'')

    async def apply(conn: asyncpg.Connection) -> bool:
        return await apply_additive(conn, name, plan, definition_fingerprint(base),
                                    definition_fingerprint(new))

    assert asyncio.run(with_conn(pg_dsn, apply)) is False
    assert "note" not in {c[1] for c in _schema(pg_dsn, name)["columns"]}


PROGRAM = """
import asyncio, json, sys
from lcdev.runtime.data import migrate
from tests.runtime.data.helpers import service_from_yaml
dsn, name, old, new = sys.argv[1:]
report = asyncio.run(migrate(dsn, service_from_yaml(new, name),
                             previous=service_from_yaml(old, name)))
print(json.dumps([report.path, sorted(m for m in sys.modules if m.startswith("alembic"))]))
"""


def test_the_additive_path_does_not_import_alembic(pg_dsn: str) -> None:
    name = unique_name()
    _with_rows(pg_dsn, name)
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", PROGRAM, pg_dsn, name, BASE, NOTE],
                            capture_output=True, text=True, timeout=60, check=True, cwd=root)
    assert json.loads(result.stdout) == ["additive", []]
