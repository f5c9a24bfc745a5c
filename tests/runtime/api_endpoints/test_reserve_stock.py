"""The shop's escape hatch, ``inventory/handlers.py:reserve_stock``, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from lcdev.runtime.api.endpoints import call_endpoint
from lcdev.runtime.problems import ProblemError
from tests.runtime.api_endpoints.helpers import INVENTORY, Stack, inventory, running


def scenario(pg_dsn: str, work: Callable[[Stack], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with running(pg_dsn, inventory(), INVENTORY) as stack:
            return await work(stack)

    return asyncio.run(go())


async def stock(stack: Stack) -> dict[str, int]:
    rows = await stack.fetch("SELECT sku, available FROM {schema}.stock ORDER BY sku")
    return {r["sku"]: r["available"] for r in rows}


async def reserve(stack: Stack, order_id: str, lines: list[dict[str, Any]],
                  conn: Any = None) -> dict[str, Any] | None:
    if conn is not None:
        return await stack.runner.call("reserve", conn, path_params={},
                                       body={"order_id": order_id, "lines": lines})
    async with stack.pool.acquire() as own, own.transaction():
        return await reserve(stack, order_id, lines, own)


def test_enough_stock_reserves_every_line(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        assert await stock(stack) == {"SKU-1": 100, "SKU-2": 50, "SKU-3": 0}  # the seed
        order_id = str(uuid.uuid4())
        response = await stack.client.post(
            f"{stack.service.route}/reservations",
            json={"order_id": order_id, "lines": [{"sku": "SKU-1", "quantity": 2},
                                                  {"sku": "SKU-2", "quantity": 1},
                                                  {"sku": "SKU-1", "quantity": 1}]})
        assert response.status_code == 200
        body = response.json()
        assert (body["status"], body["total"], body["reason"]) == ("reserved", "54.47", None)
        assert body["order_id"] == order_id
        assert await stock(stack) == {"SKU-1": 97, "SKU-2": 49, "SKU-3": 0}
        [event] = await stack.outbox()
        assert event["event"] == "StockReserved"
        assert event["payload"] == {"order_id": order_id, "total": "54.47"}
        assert event["key"] == order_id

    scenario(pg_dsn, work)


def test_short_stock_rejects_the_order_and_holds_nothing(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        row = await reserve(stack, order_id, [{"sku": "SKU-1", "quantity": 5},
                                              {"sku": "SKU-3", "quantity": 1},
                                              {"sku": "NOPE", "quantity": 1}])
        assert row is not None
        assert row["status"] == "rejected"
        assert row["total"] is None
        assert row["reason"] == ("not enough stock: NOPE: unknown product;"
                                 " SKU-3: 0 available, 1 requested")
        assert await stock(stack) == {"SKU-1": 100, "SKU-2": 50, "SKU-3": 0}
        [event] = await stack.outbox()
        assert event["event"] == "StockRejected"
        assert event["payload"] == {"order_id": order_id, "reason": row["reason"]}

    scenario(pg_dsn, work)


def test_a_second_call_for_the_same_order_returns_the_first(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        lines = [{"sku": "SKU-2", "quantity": 10}]
        first = await reserve(stack, order_id, lines)
        second = await reserve(stack, order_id, lines)
        assert first is not None
        assert second == first
        assert (await stock(stack))["SKU-2"] == 40
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, work)


def test_concurrent_calls_for_one_order_reserve_once(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        lines = [{"sku": "SKU-1", "quantity": 3}]
        rows = await asyncio.gather(*(reserve(stack, order_id, lines) for _ in range(4)))
        assert len({row["id"] for row in rows if row}) == 1
        assert (await stock(stack))["SKU-1"] == 97
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, work)


def test_concurrent_orders_never_oversell(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        orders = [str(uuid.uuid4()) for _ in range(8)]  # 8 x 7 of SKU-2: only 7 fit in 50
        rows = await asyncio.gather(*(
            reserve(stack, o, [{"sku": "SKU-2", "quantity": 7}, {"sku": "SKU-1", "quantity": 1}])
            for o in orders))
        statuses = sorted(row["status"] for row in rows if row)
        assert statuses == ["rejected"] + ["reserved"] * 7
        assert await stock(stack) == {"SKU-1": 93, "SKU-2": 1, "SKU-3": 0}

    scenario(pg_dsn, work)


def test_bad_lines_are_422_naming_each_line(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        response = await stack.client.post(
            f"{stack.service.route}/reservations",
            json={"order_id": str(uuid.uuid4()),
                  "lines": [{"sku": "SKU-1", "quantity": 0}, {"quantity": 1}]})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == [
            "lines[0].quantity", "lines[1].sku"]
        empty = await stack.client.post(f"{stack.service.route}/reservations",
                                        json={"order_id": str(uuid.uuid4()), "lines": []})
        assert empty.status_code == 422
        assert await stack.outbox() == []
        assert await stack.fetch("SELECT * FROM {schema}.reservation") == []

    scenario(pg_dsn, work)


def test_order_placed_events_reach_the_handler(pg_dsn: str) -> None:
    """The payload of OrderPlaced (its lines are embedded OrderLine rows) is a valid body."""

    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        payload = {
            "order_id": order_id, "customer_id": str(uuid.uuid4()),
            "lines": [{"id": str(uuid.uuid4()), "order": order_id, "sku": "SKU-1",
                       "quantity": 4, "created_at": "2024-05-01T12:00:00+00:00"}],
        }
        async with stack.pool.acquire() as conn, conn.transaction():
            row = await call_endpoint(stack.service, "reserve", conn, path_params={},
                                      body=payload, runner=stack.runner)
        assert (row["status"], row["total"]) == ("reserved", Decimal("39.96"))
        with pytest.raises(ProblemError) as refused:
            async with stack.pool.acquire() as conn, conn.transaction():
                await call_endpoint(stack.service, "reserve", conn, path_params={},
                                    body={"lines": []}, runner=stack.runner)
        assert refused.value.status == 422

    scenario(pg_dsn, work)


def test_the_handler_sees_its_transaction_roll_back(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            tx = conn.transaction()
            await tx.start()
            await reserve(stack, str(uuid.uuid4()), [{"sku": "SKU-1", "quantity": 1}], conn)
            await tx.rollback()
        finally:
            await conn.close()
        assert (await stock(stack))["SKU-1"] == 100
        assert await stack.outbox() == []

    scenario(pg_dsn, work)
