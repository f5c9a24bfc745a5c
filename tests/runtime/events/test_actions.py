"""The declarative consumer actions over a repository (a small SQL implementation of the data
layer's interface) on real PostgreSQL: rows written, events they trigger enqueued in the same
transaction, endpoint calls, and values that cannot be stored refused for good."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
import pytest

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.events import ActionRejected, EventDefinitionError, build_actions
from lcdev.runtime.events.trace import using_trace_headers
from tests.runtime.events.helpers import schema_of, service_db, unique

PAYMENTS = {
    "entities": {
        "Payment": {"fields": {"order_id": "uuid!", "amount": "decimal(12, 2)!",
                               "status": "enum(processed, failed)!", "reason": "text",
                               "attempts": "integer = 0"}},
    },
    "endpoints": {"refund": {"method": "POST", "path": "/payments/{order_id}/refund",
                             "handler": "handlers:refund"}},
    "publishes": {"PaymentProcessed": {"entity": "Payment", "when": "created",
                                       "if": "status == processed", "key": "order_id",
                                       "payload": {"order_id": "uuid!",
                                                   "amount": "decimal(12, 2)!"}}},
    "consumes": [
        {"event": "StockReserved", "action": "insert", "entity": "Payment",
         "map": {"order_id": "order_id", "amount": "total"}, "set": {"status": "processed"}},
        {"event": "PaymentRetried", "action": "upsert", "entity": "Payment",
         "match": {"order_id": "order_id"}, "map": {"amount": "total", "attempts": "attempts"},
         "set": {"status": "failed", "reason": "retried"}},
        {"event": "PaymentFailed", "action": "update", "entity": "Payment",
         "match": {"order_id": "order_id"}, "map": {"reason": "reason"},
         "set": {"status": "failed"}},
        {"event": "RefundAsked", "action": "call", "endpoint": "refund"},
    ],
}
PAYMENT_TABLE = """
CREATE TABLE {s}.payment (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), order_id uuid NOT NULL,
    amount numeric(12, 2) NOT NULL, status text NOT NULL, reason text, attempts bigint DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
"""


class SqlRepository:
    """insert / update_where of the data layer's EntityRepository, in plain SQL."""

    def __init__(self, table: str) -> None:
        self.table = table

    async def insert(self, conn: Any, values: dict[str, Any]) -> dict[str, Any]:
        names = list(values)
        row = await conn.fetchrow(
            f"INSERT INTO {self.table} ({', '.join(names)}) VALUES"
            f" ({', '.join(f'${i + 1}' for i in range(len(names)))}) RETURNING *",
            *values.values())
        return dict(row)

    async def update_where(self, conn: Any, match: dict[str, Any],
                           values: dict[str, Any]) -> list[dict[str, Any]]:
        sets = ", ".join(f"{name} = ${i + 1}" for i, name in enumerate(values))
        where = " AND ".join(f"{name} = ${len(values) + i + 1}" for i, name in enumerate(match))
        rows = await conn.fetch(f"UPDATE {self.table} SET {sets}, updated_at = now()"
                                f" WHERE {where} RETURNING *", *values.values(),
                                *match.values())
        return [dict(r) for r in rows]


def _service() -> ServiceDefinition:
    return ServiceDefinition.model_validate({"name": unique("evpay"), **PAYMENTS})


def test_insert_upsert_update_and_call(pg_dsn: str) -> None:
    service = _service()
    schema = schema_of(service)
    calls: list[tuple[str, Mapping[str, str], Any, Mapping[str, str] | None]] = []

    async def call_endpoint(svc: ServiceDefinition, name: str, conn: Any, *,
                            path_params: Mapping[str, str], body: Any,
                            headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        calls.append((name, path_params, body, headers))
        return {}

    entry = {c.event: c for c in service.consumes}

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with service_db(pg_dsn, service, extra=PAYMENT_TABLE) as pools, \
                pools[service.name].acquire() as conn:
            repo = SqlRepository(f'"{schema}".payment')
            act = build_actions(service, {"Payment": repo}, call_endpoint)
            paid, retried = str(uuid.uuid4()), str(uuid.uuid4())
            async with conn.transaction():
                await act(conn, entry["StockReserved"], {"order_id": paid, "total": "12.50"})
                await act(conn, entry["PaymentRetried"],  # no row yet: inserted
                          {"order_id": retried, "total": 3, "attempts": 1})
                await act(conn, entry["PaymentRetried"],  # now updated
                          {"order_id": retried, "total": "4.00", "attempts": 2})
                await act(conn, entry["PaymentFailed"], {"order_id": paid, "reason": "fraud"})
                with using_trace_headers({"traceparent": "00-ab-cd-01"}):
                    await act(conn, entry["RefundAsked"], {"order_id": paid, "why": "late"})
            with pytest.raises(LookupError, match="no Payment matches order_id = "):
                await act(conn, entry["PaymentFailed"],
                          {"order_id": str(uuid.uuid4()), "reason": None})
            with pytest.raises(ActionRejected, match="Payment.amount: cannot store 'lots'"):
                await act(conn, entry["StockReserved"], {"order_id": paid, "total": "lots"})
            rows = await conn.fetch(f'SELECT * FROM "{schema}".payment ORDER BY created_at,'
                                    " attempts")
            outbox = await conn.fetch(f'SELECT * FROM "{schema}".lcdev_outbox')
            return list(rows), list(outbox)

    rows, outbox = asyncio.run(scenario())
    assert [(r["amount"], r["status"], r["reason"], r["attempts"]) for r in rows] == [
        (Decimal("12.50"), "failed", "fraud", 0), (Decimal("4.00"), "failed", "retried", 2)]
    # The insert went through the change hook: PaymentProcessed enqueued with the row.
    assert [r["event"] for r in outbox] == ["PaymentProcessed"]
    assert orjson.loads(outbox[0]["payload"]) == {"order_id": str(rows[0]["order_id"]),
                                                  "amount": "12.50"}
    assert calls == [("refund", {"order_id": str(rows[0]["order_id"])},
                      {"order_id": str(rows[0]["order_id"]), "why": "late"},
                      {"traceparent": "00-ab-cd-01"})]


def test_actions_refuse_a_definition_they_cannot_serve() -> None:
    service = _service()

    async def call_endpoint(*_: Any, **__: Any) -> dict[str, Any]:
        return {}

    with pytest.raises(EventDefinitionError, match="'Payment', which has no repository"):
        build_actions(service, {}, call_endpoint)
