"""The hand-written peer for bench_runtime.py: starlette + asyncpg serving the bench's
`items.item` table with the same queries the generated API runs (get by id, a filtered
list, an insert), the way a careful developer would write it by hand."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN, PORT = sys.argv[1], int(sys.argv[2])
COLUMNS = "id, name, price, qty, created_at, updated_at"
state: dict[str, Any] = {}


def _json(row: asyncpg.Record) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, uuid.UUID | Decimal) else v for k, v in row.items()}


def respond(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def get_item(request: Request) -> Response:
    try:
        item_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        return respond({"detail": "not found"}, 404)
    async with state["pool"].acquire() as conn:
        row = await conn.fetchrow(f'SELECT {COLUMNS} FROM items."item" WHERE id = $1', item_id)
    return respond(_json(row)) if row else respond({"detail": "not found"}, 404)


async def list_items(request: Request) -> Response:
    min_qty = int(request.query_params.get("min_qty", "0"))
    async with state["pool"].acquire() as conn:
        rows = await conn.fetch(
            f'SELECT {COLUMNS} FROM items."item" WHERE qty >= $1 '
            "ORDER BY created_at, id LIMIT 20", min_qty)
    return respond({"items": [_json(r) for r in rows]})


async def create_item(request: Request) -> Response:
    body = orjson.loads(await request.body())
    async with state["pool"].acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f'INSERT INTO items."item" (name, price, qty) VALUES ($1, $2, $3) '
            f"RETURNING {COLUMNS}", body["name"], Decimal(body["price"]), int(body["qty"]))
    return respond(_json(row), 201)


async def health(_: Request) -> Response:
    return respond({"status": "ok"})


@contextlib.asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    state["pool"] = await asyncpg.create_pool(DSN, min_size=2, max_size=10)
    yield
    await state["pool"].close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/items", list_items),
        Route("/items", create_item, methods=["POST"]),
        Route("/items/{id}", get_item),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
