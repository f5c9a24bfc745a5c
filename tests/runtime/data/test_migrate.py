"""Migrations against a real PostgreSQL: fresh create, no-op, additive, destructive refused
(and nothing changed), destructive allowed, changed rules, seeds."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest

from lcdev.runtime.data import (
    DestructiveChangeRefused,
    MigrationReport,
    migrate,
    repositories,
)
from tests.runtime.data.helpers import service_from_yaml, unique_name, with_conn

BASE = """
name: {name}
entities:
  Order:
    fields:
      total: decimal(12, 2)!
      status: enum(new, paid) = new
      reason: text
"""


def _migrate(dsn: str, text: str, name: str, **kw: Any) -> MigrationReport:
    return asyncio.run(migrate(dsn, service_from_yaml(text, name), **kw))


def _columns(dsn: str, schema: str, table: str) -> dict[str, str]:
    async def work(conn: Any) -> dict[str, str]:
        rows = await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = $2", schema, table)
        return {r["column_name"]: r["data_type"] for r in rows}

    return asyncio.run(with_conn(dsn, work))


def _execute(dsn: str, sql: str, *args: Any) -> Any:
    return asyncio.run(with_conn(dsn, lambda conn: conn.fetch(sql, *args)))


def test_fresh_create_then_noop(pg_dsn: str) -> None:
    name = unique_name()
    first = _migrate(pg_dsn, BASE, name)
    assert first.compared
    assert f"create table {name}.order" in first.changes
    assert f"create table {name}.lcdev_outbox" in first.changes
    assert _columns(pg_dsn, name, "order") == {
        "id": "uuid", "total": "numeric", "status": "text", "reason": "text",
        "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
    }
    assert _columns(pg_dsn, name, "lcdev_outbox") == {
        "id": "uuid", "event": "text", "topic": "text", "key": "text", "payload": "jsonb",
        "headers": "jsonb", "created_at": "timestamp with time zone",
        "published_at": "timestamp with time zone",
    }
    for table in ("lcdev_consumer_offsets", "lcdev_processed_events", "lcdev_dead_letters"):
        assert _columns(pg_dsn, name, table)
    started = time.perf_counter()
    second = _migrate(pg_dsn, BASE, name)
    assert (time.perf_counter() - started) < 0.5
    assert second.changes == ()
    assert not second.compared


def test_full_comparison_of_unchanged_schema_finds_nothing(pg_dsn: str) -> None:
    """Alembic's comparison itself (fingerprint cleared) sees no difference: no spurious
    type, index or constraint changes from the mapping."""
    name = unique_name()
    service = service_from_yaml(BASE, name)
    from tests.runtime.data.helpers import SHOP

    shop_name = unique_name()
    for text, schema in ((BASE, name), (SHOP, shop_name)):
        _migrate(pg_dsn, text, schema)
        _execute(pg_dsn, f'COMMENT ON SCHEMA "{schema}" IS NULL')
        again = _migrate(pg_dsn, text, schema)
        assert again.compared
        assert again.changes == ()
    assert service.name == name


def test_additive_column_is_added_and_rows_kept(pg_dsn: str) -> None:
    name = unique_name()
    _migrate(pg_dsn, BASE, name)
    _execute(pg_dsn, f'INSERT INTO "{name}"."order" (total) VALUES (5)')
    wider = BASE + "      note: string(40)\n      count: integer! = 0\n"
    report = _migrate(pg_dsn, wider, name)
    assert report.changes == (f"add column {name}.order.note", f"add column {name}.order.count")
    rows = _execute(pg_dsn, f'SELECT total, note, count FROM "{name}"."order"')
    assert [tuple(r) for r in rows] == [(Decimal("5.00"), None, 0)]


def test_destructive_change_is_refused_and_nothing_changes(pg_dsn: str) -> None:
    name = unique_name()
    _migrate(pg_dsn, BASE, name)
    for reason in ("a", "b", "c"):
        _execute(pg_dsn, f'INSERT INTO "{name}"."order" (total, reason) VALUES (1, $1)', reason)
    narrower = BASE.replace("      reason: text\n", "") + "      extra: text\n"
    with pytest.raises(DestructiveChangeRefused) as refused:
        _migrate(pg_dsn, narrower, name)
    message = str(refused.value)
    assert f"would drop column {name}.order.reason (3 rows have values)" in message
    assert "allow_destructive=True" in message
    assert "Nothing was changed" in message
    assert refused.value.changes == [f"would drop column {name}.order.reason (3 rows have values)"]
    columns = _columns(pg_dsn, name, "order")
    assert "reason" in columns
    assert "extra" not in columns
    allowed = _migrate(pg_dsn, narrower, name, allow_destructive=True)
    assert allowed.destructive == (f"would drop column {name}.order.reason (3 rows have values)",)
    columns = _columns(pg_dsn, name, "order")
    assert "reason" not in columns
    assert "extra" in columns


def test_dropped_entity_and_required_field_without_default_are_destructive(pg_dsn: str) -> None:
    name = unique_name()
    text = BASE + "  Old:\n    fields:\n      x: text\n"
    _migrate(pg_dsn, text, name)
    _execute(pg_dsn, f'INSERT INTO "{name}"."old" (x) VALUES (\'keep\')')
    _execute(pg_dsn, f'INSERT INTO "{name}"."order" (total) VALUES (1)')
    with pytest.raises(DestructiveChangeRefused) as refused:
        _migrate(pg_dsn, BASE + "      must: text!\n", name)
    assert sorted(refused.value.changes) == [
        f"would add required column {name}.order.must without a default to a table with 1 row"
        " (give the field a default, or add it as optional first)",
        f"would drop table {name}.old (1 row)",
    ]
    assert _execute(pg_dsn, f'SELECT x FROM "{name}"."old"')[0]["x"] == "keep"


def test_changed_rules_replace_checks(pg_dsn: str) -> None:
    name = unique_name()
    _migrate(pg_dsn, BASE, name)
    more = BASE.replace("enum(new, paid)", "enum(new, paid, shipped)")
    report = _migrate(pg_dsn, more, name)
    assert any(c.startswith("drop rule ck_order_status_") for c in report.changes)
    assert any("add rule \"status\" IN ('new', 'paid', 'shipped')" in c for c in report.changes)
    _execute(pg_dsn, f"INSERT INTO \"{name}\".\"order\" (total, status) VALUES (1, 'shipped')")
    with pytest.raises(DestructiveChangeRefused) as refused:
        _migrate(pg_dsn, BASE, name)
    assert refused.value.changes == [
        f"would add rule \"status\" IN ('new', 'paid') on {name}.order.status that 1 row break"
        " (existing rows would be kept as they are)"]
    _migrate(pg_dsn, BASE, name, allow_destructive=True)
    rows = _execute(pg_dsn, f'SELECT status FROM "{name}"."order"')
    assert [r["status"] for r in rows] == ["shipped"]  # kept; new writes are checked
    with pytest.raises(Exception, match="violates check constraint"):
        _execute(pg_dsn, f"INSERT INTO \"{name}\".\"order\" (total, status) VALUES (1, 'x')")


def test_widening_a_string_is_additive_narrowing_is_not(pg_dsn: str) -> None:
    name = unique_name()
    text = BASE + "      code: string(5)\n"
    _migrate(pg_dsn, text, name)
    _execute(pg_dsn, f"INSERT INTO \"{name}\".\"order\" (total, code) VALUES (1, 'abcde')")
    report = _migrate(pg_dsn, text.replace("string(5)", "string(10)"), name)
    assert report.changes == (
        f"widen column {name}.order.code from VARCHAR(5) to VARCHAR(10)",)
    with pytest.raises(DestructiveChangeRefused, match="would change the type of column"):
        _migrate(pg_dsn, text.replace("string(5)", "string(3)"), name)


def test_seed_rows_fill_empty_tables_only(pg_dsn: str) -> None:
    name = unique_name()
    text = BASE + """    seed:
      - {total: 9.99, status: paid}
      - {total: 1}
"""
    first = _migrate(pg_dsn, text, name)
    assert first.seeded == {"Order": 2}
    rows = _execute(pg_dsn, f'SELECT total, status FROM "{name}"."order" ORDER BY total')
    assert [tuple(r) for r in rows] == [(Decimal("1.00"), "new"), (Decimal("9.99"), "paid")]
    assert _migrate(pg_dsn, text, name).seeded == {}
    _execute(pg_dsn, f'DELETE FROM "{name}"."order"')
    assert _migrate(pg_dsn, text, name).seeded == {"Order": 2}


def test_schema_with_children_and_refs_is_usable(pg_dsn: str) -> None:
    from tests.runtime.data.helpers import SHOP

    name = unique_name()
    report = _migrate(pg_dsn, SHOP, name)
    assert f"create table {name}.order_line" in report.changes
    assert set(repositories(service_from_yaml(SHOP, name))) == {"Order", "OrderLine", "Note"}
    fks = _execute(pg_dsn, "SELECT conname, confdeltype::text FROM pg_constraint"
                   " WHERE contype = 'f' AND connamespace = $1::regnamespace ORDER BY conname",
                   name)
    assert [(r["conname"], r["confdeltype"]) for r in fks] == [
        ("fk_note_order", "r"), ("fk_order_line_order", "c")]


def test_change_that_existing_rows_break_fails_and_changes_nothing(pg_dsn: str) -> None:
    from lcdev.runtime.data import MigrationFailed

    name = unique_name()
    text = BASE + "      code: string(5)\n"
    _migrate(pg_dsn, text, name)
    for _ in range(2):
        _execute(pg_dsn, f"INSERT INTO \"{name}\".\"order\" (total, code) VALUES (1, 'same')")
    unique = text.replace("code: string(5)", "code: {type: string, max_length: 5, unique: true}")
    with pytest.raises(MigrationFailed) as failed:
        _migrate(pg_dsn, unique + "      extra: text\n", name)
    assert failed.value.change == f"add unique constraint uq_order_code to {name}.order"
    assert "could not create unique index" in failed.value.reason
    assert "extra" not in _columns(pg_dsn, name, "order")  # the whole migration rolled back
    _execute(pg_dsn, f"UPDATE \"{name}\".\"order\" SET code = gen_random_uuid()::text::varchar(5)"
             " WHERE ctid = (SELECT min(ctid) FROM \"" + name + "\".\"order\")")
    assert _migrate(pg_dsn, unique, name).changes == (
        f"add unique constraint uq_order_code to {name}.order",)
