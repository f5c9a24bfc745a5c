"""The shop example end to end through the gateway: real PostgreSQL, tansu, four low-code
services forked by the supervisor, the gateway — driven as a user would, with a dev token."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import running_shop_stack, status_json

pytestmark = pytest.mark.stack

FINAL = {"paid", "rejected"}


@pytest.fixture(scope="module")
def running_shop() -> Iterator[dict[str, Any]]:
    """One shop stack for the module (start-up is what other tests measure)."""
    with running_shop_stack("lcdev-shop-") as stack:
        yield stack


def _place(client: httpx.Client, sku: str, quantity: int) -> str:
    response = client.post("/orders/orders", json={
        "customer_id": str(uuid.uuid4()), "lines": [{"sku": sku, "quantity": quantity}]})
    assert response.status_code == 201, response.text
    order_id: str = response.json()["id"]
    return order_id


def _final(client: httpx.Client, order_ids: list[str], timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    orders: dict[str, Any] = {}
    while time.monotonic() < deadline:
        for order_id in order_ids:
            if orders.get(order_id, {}).get("status") in FINAL:
                continue
            response = client.get(f"/orders/orders/{order_id}")
            if response.status_code == 200:
                orders[order_id] = response.json()
        if all(orders.get(o, {}).get("status") in FINAL for o in order_ids):
            return orders
        time.sleep(0.05)
    pending = {o: orders.get(o, {}).get("status") for o in order_ids
               if orders.get(o, {}).get("status") not in FINAL}
    raise AssertionError(f"orders not final after {timeout}s: {pending}")


def _count(client: httpx.Client, path: str, order_id: str) -> int:
    response = client.get(path, params={"order_id": order_id, "count": "true"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def _eventually_count(client: httpx.Client, path: str, order_id: str, expected: int) -> int:
    """The count once it reaches ``expected`` (or after 5 s): orders and notifications consume
    the same PaymentProcessed event independently, so either may be first."""
    deadline = time.monotonic() + 5
    while (count := _count(client, path, order_id)) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def test_an_order_is_paid_within_a_second(running_shop: dict[str, Any]) -> None:
    client: httpx.Client = running_shop["client"]
    started = time.monotonic()
    order_id = _place(client, "SKU-1", 2)
    order = _final(client, [order_id], timeout=5)[order_id]
    assert order["status"] == "paid"
    assert time.monotonic() - started < 1.0
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [("SKU-1", 2)]
    assert _eventually_count(client, "/notifications/notifications", order_id, 1) == 1


def test_short_stock_and_payment_above_the_limit_are_rejected(
    running_shop: dict[str, Any],
) -> None:
    client: httpx.Client = running_shop["client"]
    short = _place(client, "SKU-3", 1)  # SKU-3 has no stock
    expensive = _place(client, "SKU-2", 40)  # 40 × 24.50 is above the approval limit
    orders = _final(client, [short, expensive])
    assert orders[short]["status"] == "rejected"
    assert "SKU-3" in (orders[short]["reason"] or "")
    assert orders[expensive]["status"] == "rejected"


def test_bad_requests_are_precise_problems(running_shop: dict[str, Any]) -> None:
    client: httpx.Client = running_shop["client"]
    missing = client.post("/orders/orders", json={"lines": [{"sku": "SKU-1", "quantity": 0}]})
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in missing.json()["errors"]}
    assert "customer_id" in fields
    assert any(f.startswith("lines") for f in fields)
    anonymous = httpx.post(f"{running_shop['status']['gateway_url']}/orders/orders", json={})
    assert anonymous.status_code == 401
    wrong_type = client.post("/orders/orders", content=b"<order/>",
                             headers={"Content-Type": "application/xml"})
    assert wrong_type.status_code == 415
    bad_filter = client.get("/orders/orders", params={"nope[gt]": "1"})
    assert bad_filter.status_code == 400


def test_broker_restart_mid_burst_loses_and_repeats_nothing(
    running_shop: dict[str, Any],
) -> None:
    client: httpx.Client = running_shop["client"]
    root: Path = running_shop["root"]
    order_ids = [_place(client, "SKU-1", 1) for _ in range(10)]
    kafka = next(c for c in status_json(root)["components"] if c["name"] == "kafka")
    os.kill(kafka["pid"], signal.SIGKILL)  # tansu keeps nothing: the log is gone
    order_ids += [_place(client, "SKU-1", 1) for _ in range(10)]
    orders = _final(client, order_ids, timeout=40)
    assert all(order["status"] == "paid" for order in orders.values())
    for order_id in order_ids:
        assert _count(client, "/payments/payments", order_id) == 1
        assert _eventually_count(client, "/notifications/notifications", order_id, 1) == 1


def test_a_service_killed_mid_flow_catches_up(running_shop: dict[str, Any]) -> None:
    client: httpx.Client = running_shop["client"]
    root: Path = running_shop["root"]
    payments = next(c for c in status_json(root)["components"] if c["name"] == "payments")
    order_ids = [_place(client, "SKU-1", 1) for _ in range(5)]
    os.kill(payments["pid"], signal.SIGKILL)
    order_ids += [_place(client, "SKU-1", 1) for _ in range(5)]
    orders = _final(client, order_ids, timeout=40)
    assert all(order["status"] == "paid" for order in orders.values())
    for order_id in order_ids:
        assert _count(client, "/payments/payments", order_id) == 1
