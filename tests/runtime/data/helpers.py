"""Test helpers: services made from YAML text with unique names (so tests sharing the
session's PostgreSQL never meet), and small asyncpg conveniences."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from ruamel.yaml import YAML

from lcdev.definitions import ServiceDefinition

T = TypeVar("T")

SHOP = """
name: {name}
entities:
  Order:
    fields:
      customer_id: uuid!
      status: enum(new, paid, rejected, cancelled)! = new
      total: {type: decimal, precision: 12, scale: 2, min: 0, required: true}
      currency: string(3) = EUR
      reason: text
      note: string(20)
      priority: {type: integer, min: 1, max: 5}
      placed_on: date
      paid_at: datetime
      express: boolean = false
      meta: json
      code: {type: string, max_length: 20, unique: true}
      lines: {type: list, entity: OrderLine, max_items: 5}
    indexes:
      - [customer_id, status]
  OrderLine:
    fields:
      order: {type: ref, entity: Order, on_delete: cascade, required: true}
      sku: string(40)!
      quantity: {type: integer, min: 1, required: true}
    crud: [list, get]
  Note:
    fields:
      order: ref(Order)!
      body: text!
"""


def unique_name(prefix: str = "t") -> str:
    """A service name no other test uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def service_from_yaml(text: str, name: str | None = None) -> ServiceDefinition:
    """A service from YAML text whose ``{name}`` is replaced by ``name`` (or a unique one)."""
    data = YAML(typ="safe").load(text.replace("{name}", name or unique_name()))
    return ServiceDefinition.model_validate(data)


def shop(name: str | None = None) -> ServiceDefinition:
    """The test shop service: every field type, a child collection and a restricting ref."""
    return service_from_yaml(SHOP, name)


async def with_conn(dsn: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(conn)`` on a fresh connection."""
    conn = await asyncpg.connect(dsn)
    try:
        return await work(conn)
    finally:
        await conn.close()
