"""EntityRepository against a real PostgreSQL: rows round-trip with their types, SQL-looking
text is stored literally, updates, guards, deletes and child collections."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from lcdev.definitions import ServiceDefinition, parse_guard
from lcdev.runtime.data import Change, EntityRepository, repositories
from tests.runtime.data.helpers import with_conn

CUSTOMER = uuid.UUID("6f1c1f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f")


def run(dsn: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    return asyncio.run(with_conn(dsn, work))


def order(**values: Any) -> dict[str, Any]:
    return {"customer_id": CUSTOMER, "total": Decimal("10.00"), **values}


def test_insert_and_get_round_trip(pg_dsn: str, shop_service: ServiceDefinition) -> None:
    repo = EntityRepository(shop_service, "Order")
    stored_at = dt.datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=dt.UTC)

    async def work(conn: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        row = await repo.insert(conn, order(
            paid_at=stored_at, placed_on=dt.date(2024, 5, 1), meta={"tags": ["a"], "n": 1.5},
            priority=2, lines=[{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]))
        return row, await repo.get(conn, row["id"])

    inserted, fetched = run(pg_dsn, work)
    assert fetched == inserted
    assert inserted["id"].version == 7
    assert inserted["status"] == "new"
    assert inserted["currency"] == "EUR"
    assert inserted["express"] is False
    assert inserted["reason"] is None
    assert inserted["total"] == Decimal("10.00")
    assert inserted["paid_at"] == stored_at
    assert inserted["meta"] == {"tags": ["a"], "n": 1.5}
    assert [(line["sku"], line["order"]) for line in inserted["lines"]] == [
        ("A", inserted["id"]), ("B", inserted["id"])]
    assert isinstance(inserted["created_at"], dt.datetime)


def test_sql_looking_strings_are_stored_literally(pg_dsn: str,
                                                  shop_service: ServiceDefinition) -> None:
    repo = EntityRepository(shop_service, "Order")
    nasty = "x'); DROP TABLE \"order\"; --"

    async def work(conn: Any) -> list[dict[str, Any]]:
        row = await repo.insert(conn, order(reason=nasty, meta={"q": "' OR 1=1 --"}))
        again = await repo.get(conn, row["id"])
        assert again is not None
        return [again]

    [row] = run(pg_dsn, work)
    assert row["reason"] == nasty
    assert row["meta"] == {"q": "' OR 1=1 --"}


def test_update_replaces_children_and_records_changes(pg_dsn: str,
                                                      shop_service: ServiceDefinition) -> None:
    repo = EntityRepository(shop_service, "Order")
    changes: list[Change] = []

    async def work(conn: Any) -> tuple[dict[str, Any], dict[str, Any] | None, Any]:
        row = await repo.insert(conn, order(lines=[{"sku": "A", "quantity": 1}]))
        updated = await repo.update(conn, row["id"], {"reason": "late",
                                                      "lines": [{"sku": "C", "quantity": 3}]},
                                    changes=changes)
        missing = await repo.update(conn, uuid.uuid4(), {"reason": "x"})
        return row, updated, missing

    row, updated, missing = run(pg_dsn, work)
    assert missing is None
    assert updated is not None
    assert updated["reason"] == "late"
    assert updated["updated_at"] >= row["updated_at"]
    assert [line["sku"] for line in updated["lines"]] == ["C"]
    assert [(e, kind, r["sku"]) for e, kind, r in changes] == [
        ("OrderLine", "deleted", "A"), ("OrderLine", "created", "C")]


def test_guarded_update_changes_nothing_when_guard_fails(pg_dsn: str,
                                                         shop_service: ServiceDefinition) -> None:
    repo = EntityRepository(shop_service, "Order")
    guard = parse_guard("status in [new] and total <= 100")

    async def work(conn: Any) -> tuple[Any, Any, Any]:
        row = await repo.insert(conn, order())
        first = await repo.update(conn, row["id"], {"status": "cancelled"}, guard=guard)
        second = await repo.update(conn, row["id"], {"status": "paid"}, guard=guard)
        return first, second, await repo.get(conn, row["id"])

    first, second, final = run(pg_dsn, work)
    assert first["status"] == "cancelled"
    assert second is None
    assert final["status"] == "cancelled"


def test_update_where_and_delete(pg_dsn: str, shop_service: ServiceDefinition) -> None:
    repos = repositories(shop_service)
    marker = uuid.uuid4()

    async def work(conn: Any) -> tuple[Any, ...]:
        a = await repos["Order"].insert(conn, order(customer_id=marker, code=None))
        await repos["Order"].insert(conn, order(customer_id=marker, code=str(marker)[:20]))
        matched = await repos["Order"].update_where(
            conn, {"customer_id": marker, "code": None}, {"status": "paid"})
        note = await repos["Note"].insert(conn, {"order": a["id"], "body": "hi"})
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with conn.transaction():
                await repos["Order"].delete(conn, a["id"])
        await repos["Note"].delete(conn, note["id"])
        deleted = await repos["Order"].delete(conn, a["id"])
        return matched, deleted, await repos["Order"].delete(conn, a["id"]), a

    matched, deleted, again, a = run(pg_dsn, work)
    assert [r["id"] for r in matched] == [a["id"]]
    assert matched[0]["status"] == "paid"
    assert deleted is True
    assert again is False


def test_delete_takes_the_children_along(pg_dsn: str, shop_service: ServiceDefinition) -> None:
    repos = repositories(shop_service)
    changes: list[Change] = []

    async def work(conn: Any) -> tuple[Any, int]:
        row = await repos["Order"].insert(conn, order(lines=[{"sku": "A", "quantity": 1}]))
        gone = await repos["Order"].delete_row(conn, row["id"], changes=changes)
        left = await conn.fetchval(
            f"SELECT count(*) FROM {repos['OrderLine'].model.qualified()}"
            ' WHERE "order" = $1', row["id"])
        return gone, left

    gone, left = run(pg_dsn, work)
    assert gone is not None
    assert left == 0
    assert [(e, kind) for e, kind, _ in changes] == [("OrderLine", "deleted")]


def test_guard_with_a_setting_and_null(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from lcdev.runtime.data import migrate
    from tests.runtime.data.helpers import service_from_yaml

    service = service_from_yaml("""
name: {name}
settings:
  limit: {type: decimal, default: 100, env: LCDEV_TEST_GUARD_LIMIT}
entities:
  Payment:
    fields:
      amount: decimal(12, 2)!
      reason: text
""")
    asyncio.run(migrate(pg_dsn, service))
    monkeypatch.setenv("LCDEV_TEST_GUARD_LIMIT", "50")  # the environment wins over the default
    repo = EntityRepository(service, "Payment")
    guard = parse_guard("amount <= settings.limit and reason == null")

    async def work(conn: Any) -> tuple[Any, Any]:
        small = await repo.insert(conn, {"amount": Decimal("40")})
        large = await repo.insert(conn, {"amount": Decimal("60")})
        return (await repo.update(conn, small["id"], {"reason": "ok"}, guard=guard),
                await repo.update(conn, large["id"], {"reason": "ok"}, guard=guard))

    small, large = run(pg_dsn, work)
    assert small["reason"] == "ok"
    assert large is None
