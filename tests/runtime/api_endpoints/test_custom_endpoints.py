"""Declarative custom endpoints on a real PostgreSQL: guards, set, publish, one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.data import schema_name
from lcdev.runtime.problems import ProblemError
from tests.runtime.api_endpoints.helpers import Stack, running, service_from_yaml

ORDERS = """
name: x
settings:
  max_total: {type: decimal, default: 100}
entities:
  Order:
    fields:
      customer_id: uuid!
      status: enum(new, paid, cancelled)! = new
      total: decimal(12, 2)
      code: {type: string, max_length: 10, unique: true}
      lines: {type: list, entity: OrderLine}
  OrderLine:
    fields:
      order: {type: ref, entity: Order, on_delete: cascade, required: true}
      sku: string(40)!
endpoints:
  cancel:
    method: POST
    path: /orders/{id}/cancel
    entity: Order
    guard: status in [new]
    set: {status: cancelled}
    publish: OrderCancelled
  pay:
    method: POST
    path: /orders/{id}/pay
    entity: Order
    guard: status == new and total <= settings.max_total
    set: {status: paid}
  recode:
    method: POST
    path: /orders/{id}/recode
    entity: Order
    set: {code: SAME}
  notify:
    method: POST
    path: /notify
    request: {order_id: uuid!, note: string(20)}
    publish: CustomerNotified
publishes:
  OrderCancelled:
    entity: Order
    when: endpoint
    key: order_id
    map: {order_id: id}
    payload: {order_id: uuid!, total: "decimal(12, 2)"}
  OrderPaid:
    entity: Order
    when: updated
    if: status == paid
    payload: {id: uuid!}
  CustomerNotified:
    payload: {order_id: uuid!, note: string(20)}
"""


def scenario(pg_dsn: str, work: Callable[[Stack], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with running(pg_dsn, service_from_yaml(ORDERS)) as stack:
            return await work(stack)

    return asyncio.run(go())


async def new_order(stack: Stack, total: str = "12.50", **extra: Any) -> dict[str, Any]:
    async with stack.pool.acquire() as conn:
        row = await stack.runner.repos["Order"].insert(conn, {
            "customer_id": uuid.uuid4(), "total": Decimal(total), **extra,
            "lines": [{"sku": "A"}]})
    return {**row, "id": str(row["id"])}


def validator(stack: Stack, schema: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    doc = openapi_document(stack.service)
    root = {"$ref": f"#/components/schemas/{schema}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def test_cancel_changes_the_row_and_publishes_with_it(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order = await new_order(stack)
        path = f"{stack.service.route}/orders/{order['id']}/cancel"
        response = await stack.client.post(path, headers={
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["status"] == "cancelled"
        assert body["total"] == "12.50"
        assert [line["sku"] for line in body["lines"]] == ["A"]
        validator(stack, "Order").validate(body)
        [event] = await stack.outbox()
        assert event["event"] == "OrderCancelled"
        assert event["topic"] == stack.service.topic("OrderCancelled")
        assert event["key"] == order["id"]
        assert event["payload"] == {"order_id": order["id"], "total": "12.50"}
        assert event["headers"]["traceparent"].startswith("00-0af7651916cd43dd")

    scenario(pg_dsn, work)


def test_a_failed_guard_is_409_naming_the_condition(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order = await new_order(stack)
        path = f"{stack.service.route}/orders/{order['id']}/cancel"
        assert (await stack.client.post(path)).status_code == 200
        again = await stack.client.post(path)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["detail"] == "status is cancelled; cancel needs status in [new]"
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, work)


def test_guards_read_settings_and_the_change_hook_runs(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        big, small = await new_order(stack, "150.00"), await new_order(stack, "50.00")
        refused = await stack.client.post(f"{stack.service.route}/orders/{big['id']}/pay")
        assert refused.status_code == 409
        assert refused.json()["detail"] == (
            "total is 150.00; pay needs total <= settings.max_total")
        paid = await stack.client.post(f"{stack.service.route}/orders/{small['id']}/pay")
        assert paid.status_code == 200
        assert paid.json()["status"] == "paid"
        events = await stack.outbox()
        assert [(e["event"], e["payload"]) for e in events] == [
            ("OrderPaid", {"id": small["id"]})]

    scenario(pg_dsn, work)


def test_unknown_rows_are_404(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        route = stack.service.route
        missing = await stack.client.post(f"{route}/orders/{uuid.uuid4()}/cancel")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        garbage = await stack.client.post(f"{route}/orders/not-a-uuid/cancel")
        assert garbage.status_code == 404

    scenario(pg_dsn, work)


def test_concurrent_cancels_exactly_one_wins(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order = await new_order(stack)
        path = f"{stack.service.route}/orders/{order['id']}/cancel"
        responses = await asyncio.gather(*(stack.client.post(path) for _ in range(6)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409, 409, 409, 409, 409]
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, work)


def test_a_cancel_blocked_by_a_concurrent_one_reports_the_new_state(pg_dsn: str) -> None:
    """B reads the row while A's cancel is uncommitted; B's guarded UPDATE waits for A's
    lock, finds the guard no longer holds, and answers 409 — it never overwrites A."""

    async def work(stack: Stack) -> None:
        order = await new_order(stack)
        a = await asyncpg.connect(pg_dsn)
        b = await asyncpg.connect(pg_dsn)
        try:
            first = a.transaction()
            await first.start()
            won = await stack.runner.call("cancel", a, path_params={"id": order["id"]},
                                          body=None)
            assert won is not None

            async def second() -> None:
                async with b.transaction():
                    await stack.runner.call("cancel", b, path_params={"id": order["id"]},
                                            body=None)

            task = asyncio.create_task(second())
            for _ in range(200):  # until B waits for A's row lock
                waiting = await stack.pool.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
                    " AND wait_event_type = 'Lock'", b.get_server_pid())
                if waiting:
                    break
                await asyncio.sleep(0.01)
            assert waiting == 1
            await first.commit()
            with pytest.raises(ProblemError) as lost:
                await task
            assert lost.value.status == 409
            assert lost.value.detail == "status is cancelled; cancel needs status in [new]"
        finally:
            await a.close()
            await b.close()
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, work)


def test_the_event_exists_only_once_the_change_commits(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order = await new_order(stack)
        outbox = f'SELECT count(*) FROM "{schema_name(stack.service)}".lcdev_outbox'
        async with stack.pool.acquire() as conn:
            rolled_back = conn.transaction()
            await rolled_back.start()
            await stack.runner.call("cancel", conn, path_params={"id": order["id"]}, body=None)
            assert await conn.fetchval(outbox) == 1  # inside the transaction
            assert await stack.pool.fetchval(outbox) == 0  # invisible outside it
            await rolled_back.rollback()
            assert await stack.pool.fetchval(outbox) == 0
            status = await stack.fetch('SELECT status FROM {schema}."order" WHERE id = $1',
                                       uuid.UUID(order["id"]))
            assert status == [{"status": "new"}]
            async with conn.transaction():
                await stack.runner.call("cancel", conn, path_params={"id": order["id"]},
                                        body=None)
                assert await stack.pool.fetchval(outbox) == 0
        assert await stack.pool.fetchval(outbox) == 1

    scenario(pg_dsn, work)


def test_request_bodies_are_validated(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        path = f"{stack.service.route}/notify"
        bad = await stack.client.post(path, json={"note": "x" * 30, "extra": 1})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert sorted(e["field"] for e in bad.json()["errors"]) == ["extra", "note", "order_id"]
        broken = await stack.client.post(path, content=b"{not json",
                                         headers={"Content-Type": "application/json"})
        assert broken.status_code == 400
        wrong_type = await stack.client.post(path, content=b"order_id=1",
                                             headers={"Content-Type": "text/plain"})
        assert wrong_type.status_code == 415
        not_object = await stack.client.post(path, json=[1, 2])
        assert not_object.status_code == 422
        assert await stack.outbox() == []

    scenario(pg_dsn, work)


def test_an_endpoint_without_entity_publishes_the_request(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        response = await stack.client.post(f"{stack.service.route}/notify",
                                           json={"order_id": order_id, "note": "hello"})
        assert response.status_code == 200
        body = response.json()
        assert body["event"] == "CustomerNotified"
        [event] = await stack.outbox()
        assert event["payload"] == {"order_id": order_id, "note": "hello"}
        assert event["key"] == order_id
        assert str(uuid.UUID(body["event_id"])) == body["event_id"]

    scenario(pg_dsn, work)


def test_a_taken_unique_value_is_409_and_writes_nothing(pg_dsn: str) -> None:
    async def work(stack: Stack) -> None:
        first, second = await new_order(stack), await new_order(stack)
        route = stack.service.route
        assert (await stack.client.post(f"{route}/orders/{first['id']}/recode")).status_code == 200
        taken = await stack.client.post(f"{route}/orders/{second['id']}/recode")
        assert taken.status_code == 409
        assert taken.json()["errors"] == [{"field": "code", "message": "is already taken"}]
        codes = await stack.fetch('SELECT code FROM {schema}."order" ORDER BY code')
        assert codes == [{"code": "SAME"}, {"code": None}]

    scenario(pg_dsn, work)


def test_consumers_call_endpoints_with_payloads_carrying_more(pg_dsn: str) -> None:
    from lcdev.runtime.api.endpoints import call_endpoint

    async def work(stack: Stack) -> None:
        order_id = str(uuid.uuid4())
        async with stack.pool.acquire() as conn, conn.transaction():
            result = await call_endpoint(
                stack.service, "notify", conn, path_params={}, runner=stack.runner,
                body={"order_id": order_id, "note": "hi", "customer_id": str(uuid.uuid4())})
        assert result["event"] == "CustomerNotified"
        [event] = await stack.outbox()
        assert event["payload"] == {"order_id": order_id, "note": "hi"}

    scenario(pg_dsn, work)
