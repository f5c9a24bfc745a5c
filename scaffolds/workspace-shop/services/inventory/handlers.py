"""Escape-hatch handlers of the inventory service (docs/escape-hatch.md in lcdev).

``reserve_stock`` serves the ``reserve`` endpoint, which inventory also calls for every
``OrderPlaced`` event: it holds the stock of every line of the order, or none of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lcdev.runtime.api.handlers import HandlerContext


def _wanted(ctx: HandlerContext, lines: Any) -> dict[str, int]:
    """Quantity per sku of the order's lines (a sku on two lines is added up)."""
    errors: list[dict[str, str]] = []
    if not isinstance(lines, list) or not lines:
        errors.append({"field": "lines", "message": "expected a non-empty array of lines"})
        lines = []
    wanted: dict[str, int] = {}
    for i, line in enumerate(lines):
        sku = line.get("sku") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        good_sku = isinstance(sku, str) and bool(sku)
        good_quantity = isinstance(quantity, int) and not isinstance(quantity, bool)
        if not good_sku:
            errors.append({"field": f"lines[{i}].sku", "message": "expected a sku (a string)"})
        if not good_quantity or int(quantity or 0) < 1:
            errors.append({"field": f"lines[{i}].quantity",
                           "message": "expected an integer of at least 1"})
        elif good_sku:
            wanted[str(sku)] = wanted.get(str(sku), 0) + int(quantity or 0)
    if errors:
        raise ctx.ProblemError(422, "the order's lines are not valid", errors=errors)
    return wanted


async def reserve_stock(ctx: HandlerContext) -> dict[str, Any] | None:
    """Reserve every line of ``{order_id, lines: [{sku, quantity}]}`` or reject the order.

    Idempotent: a second call for the same order returns the first reservation. Inserting
    the Reservation emits StockReserved or StockRejected (its ``publishes``) in this same
    transaction, through ``ctx.insert``.
    """
    order_id = ctx.body["order_id"]
    wanted = _wanted(ctx, ctx.body["lines"])
    reservations, stock = ctx.table("Reservation"), ctx.table("Stock")
    # One caller per order at a time: a concurrent duplicate waits, then finds the first.
    await ctx.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"{reservations}:{order_id}")
    existing = await ctx.conn.fetchval(
        f"SELECT id FROM {reservations} WHERE order_id = $1", order_id)
    if existing is not None:
        return await ctx.repos["Reservation"].get(ctx.conn, existing)
    # Lock the stock rows in sku order, so two orders sharing skus cannot deadlock.
    rows = await ctx.conn.fetch(
        f"SELECT sku, available, unit_price FROM {stock} WHERE sku = ANY($1::text[])"
        " ORDER BY sku FOR UPDATE", sorted(wanted))
    found = {row["sku"]: row for row in rows}
    short = []
    for sku in sorted(wanted):
        if sku not in found:
            short.append(f"{sku}: unknown product")
        elif found[sku]["available"] < wanted[sku]:
            short.append(f"{sku}: {found[sku]['available']} available,"
                         f" {wanted[sku]} requested")
    if short:
        return await ctx.insert("Reservation", {
            "order_id": order_id, "status": "rejected", "total": None,
            "reason": "not enough stock: " + "; ".join(short),
        })
    total = Decimal(0)
    for sku in sorted(wanted):
        row = found[sku]
        await ctx.update_where("Stock", {"sku": sku},
                               {"available": row["available"] - wanted[sku]})
        total += wanted[sku] * row["unit_price"]
    return await ctx.insert("Reservation", {
        "order_id": order_id, "status": "reserved", "total": total, "reason": None,
    })
