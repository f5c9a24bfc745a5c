"""List queries against a real PostgreSQL: every filter operator, ordering on several fields,
keyset pagination through every page (ties and nulls included) and counts."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from operator import itemgetter
from typing import Any

import pytest

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data import EntityRepository, parse_list_query
from tests.runtime.data.helpers import with_conn

STATUSES = ("new", "paid", "rejected", "cancelled")
DAY = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def rows(pg_dsn: str, shop_service: ServiceDefinition) -> list[dict[str, Any]]:
    """41 orders with many ties and nulls, inserted once for the module."""
    repo = EntityRepository(shop_service, "Order")

    async def work(conn: Any) -> list[dict[str, Any]]:
        inserted = []
        for i in range(41):
            inserted.append(await repo.insert(conn, {
                "customer_id": uuid.UUID(int=i % 3), "total": Decimal(i % 5) + Decimal("0.50"),
                "status": STATUSES[i % 4], "priority": None if i % 6 == 0 else 1 + i % 3,
                "note": None if i % 7 == 0 else f"Order {i} {'RUSH' if i % 2 else 'normal'}",
                "paid_at": DAY + dt.timedelta(hours=i % 4), "express": i % 2 == 0,
                "placed_on": dt.date(2024, 5, 1 + i % 3),
            }))
        return inserted

    return asyncio.run(with_conn(pg_dsn, work))


def _list(dsn: str, service: ServiceDefinition, params: list[tuple[str, str]]) -> Any:
    repo = EntityRepository(service, "Order")
    query = parse_list_query(service, "Order", params)
    return asyncio.run(with_conn(dsn, lambda conn: repo.list(conn, query)))


def _ids(items: list[dict[str, Any]]) -> list[uuid.UUID]:
    return [row["id"] for row in items]


@pytest.mark.parametrize(("params", "keep"), [
    ([("status", "paid")], lambda r: r["status"] == "paid"),
    ([("status[ne]", "paid")], lambda r: r["status"] != "paid"),
    ([("total[gt]", "2.5")], lambda r: r["total"] > Decimal("2.5")),
    ([("total[gte]", "2.5")], lambda r: r["total"] >= Decimal("2.5")),
    ([("total[lt]", "1.50")], lambda r: r["total"] < Decimal("1.5")),
    ([("total[lte]", "1.50")], lambda r: r["total"] <= Decimal("1.5")),
    ([("status[in]", "new,rejected")], lambda r: r["status"] in ("new", "rejected")),
    ([("note[like]", "%RUSH")], lambda r: r["note"] is not None and r["note"].endswith("RUSH")),
    ([("note[ilike]", "%rush")], lambda r: r["note"] is not None and r["note"].endswith("RUSH")),
    ([("priority[is_null]", "true")], lambda r: r["priority"] is None),
    ([("priority[is_null]", "false")], lambda r: r["priority"] is not None),
    ([("note[ne]", "Order 1 RUSH")], lambda r: r["note"] != "Order 1 RUSH"),
    ([("express", "true"), ("placed_on[gte]", "2024-05-02")],
     lambda r: r["express"] and r["placed_on"] >= dt.date(2024, 5, 2)),
    ([("paid_at[gte]", "2024-05-01T02:00:00Z"), ("paid_at[lt]", "2024-05-01T03:00:00+00:00")],
     lambda r: r["paid_at"] == DAY + dt.timedelta(hours=2)),
    ([("customer_id", str(uuid.UUID(int=1)))], lambda r: r["customer_id"] == uuid.UUID(int=1)),
])
def test_each_filter_operator(pg_dsn: str, shop_service: ServiceDefinition,
                              rows: list[dict[str, Any]], params: list[tuple[str, str]],
                              keep: Any) -> None:
    page = _list(pg_dsn, shop_service, [*params, ("limit", "500"), ("count", "true")])
    expected = [r["id"] for r in rows if keep(r)]
    assert expected
    assert _ids(page.items) == sorted(expected)
    assert page.total == len(expected)
    assert page.next_cursor is None


def _expected_order(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[uuid.UUID]:
    """Python's version of ORDER BY with PostgreSQL's NULLS LAST (ASC) / FIRST (DESC)."""
    ordered = list(rows)
    for field, descending in reversed(keys):
        present = sorted((r for r in ordered if r[field] is not None),
                         key=itemgetter(field), reverse=descending)
        nulls = [r for r in ordered if r[field] is None]
        ordered = nulls + present if descending else present + nulls
    return [r["id"] for r in ordered]


@pytest.mark.parametrize("sort", ["-total,priority", "priority,-paid_at", "-priority,note",
                                  "status", "-id", "note"])
@pytest.mark.parametrize("limit", [1, 7, 41])
def test_cursor_pagination_walks_every_row_once(pg_dsn: str, shop_service: ServiceDefinition,
                                                rows: list[dict[str, Any]], sort: str,
                                                limit: int) -> None:
    keys = [(k.lstrip("-"), k.startswith("-")) for k in sort.split(",")]
    if all(field != "id" for field, _ in keys):
        keys.append(("id", keys[-1][1]))
    repo = EntityRepository(shop_service, "Order")

    async def walk(conn: Any) -> tuple[list[uuid.UUID], int]:
        seen: list[uuid.UUID] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = [("sort", sort), ("limit", str(limit))]
            query = parse_list_query(shop_service, "Order",
                                     params + ([("cursor", cursor)] if cursor else []))
            page = await repo.list(conn, query)
            seen += _ids(page.items)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                return seen, pages
            assert len(page.items) == limit

    seen, pages = asyncio.run(with_conn(pg_dsn, walk))
    assert seen == _expected_order(rows, keys)
    assert pages == -(-len(rows) // limit)


def test_filtered_pages_with_count(pg_dsn: str, shop_service: ServiceDefinition,
                                   rows: list[dict[str, Any]]) -> None:
    first = _list(pg_dsn, shop_service, [("express", "true"), ("sort", "-total"),
                                         ("limit", "5"), ("count", "true")])
    expected = _expected_order([r for r in rows if r["express"]], [("total", True), ("id", True)])
    assert first.total == len(expected) == 21
    rest = _list(pg_dsn, shop_service, [("express", "true"), ("sort", "-total"),
                                        ("limit", "500"), ("cursor", str(first.next_cursor))])
    assert _ids(first.items) + _ids(rest.items) == expected
    assert rest.total is None
