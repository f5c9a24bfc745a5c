"""The generated REST API of a service's entities (docs/api.md is the user reference).

``crud_routes`` returns starlette routes for the operations each entity enables, at the paths
of ``service.crud_routes(entity)``: list, get, create, update (PATCH partial, PUT full) and
delete. Every write runs in ONE transaction that also calls ``on_change`` (the events part
enqueues outbox rows there) before commit; if anything fails, nothing is written. Bad input is
always a problem+json answer (400, 404, 409 or 422), never a 500.

Routes of collections come before routes of items, so ``/orders/order-lines`` is never taken
for the item ``/orders/{id}``; keep that order when combining them with other routes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.crud_errors import DATABASE_INPUT_ERRORS, problem_from_database
from lcdev.runtime.data import (
    Change,
    EntityRepository,
    parse_list_query,
    validate_body,
)
from lcdev.runtime.data.bodies import BodyMode
from lcdev.runtime.data.values import json_default
from lcdev.runtime.problems import ProblemError

__all__ = ["ChangeHook", "crud_routes", "json_response", "parse_json_body"]

ChangeHook = Callable[[Any, str, Literal["created", "updated", "deleted"], dict[str, Any]],
                      Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised by orjson (decimals as strings)."""
    return Response(orjson.dumps(data, default=json_default), status, headers,
                    media_type="application/json")


def parse_json_body(body: bytes) -> Any:
    """The parsed JSON of a request body; ``ProblemError(400)`` when it is empty or invalid."""
    if not body.strip():
        raise ProblemError(400, "the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(400, f"the request body is not valid JSON: {exc}") from None


def _problems(handler: Endpoint) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ProblemError as problem:
            return problem.response()

    return endpoint


class _EntityApi:
    """The handlers of one entity."""

    def __init__(self, service: ServiceDefinition, entity: str, pool: Any,
                 repo: EntityRepository, on_change: ChangeHook) -> None:
        self.service, self.entity, self.repo, self.on_change = service, entity, repo, on_change
        self._pool = pool if not callable(pool) else None
        self._pool_source = pool if callable(pool) else None
        self.collection = service.collection_path(entity)

    def pool(self) -> Any:
        return self._pool if self._pool_source is None else self._pool_source()

    def _id(self, request: Request) -> uuid.UUID:
        text = request.path_params["id"]
        try:
            return uuid.UUID(text)
        except ValueError:
            raise ProblemError(404, f"no {self.entity} with id '{text}' (not a UUID)") from None

    def _not_found(self, id: uuid.UUID) -> ProblemError:
        return ProblemError(404, f"no {self.entity} with id {id}")

    async def _notify(self, conn: Any, kind: Literal["created", "updated", "deleted"],
                      row: dict[str, Any], changes: list[Change]) -> None:
        await self.on_change(conn, self.entity, kind, row)
        for entity, child_kind, child in changes:
            await self.on_change(conn, entity, child_kind, child)

    async def list(self, request: Request) -> Response:
        query = parse_list_query(self.service, self.entity, request.query_params)
        try:
            async with self.pool().acquire() as conn:
                page = await self.repo.list(conn, query)
        except DATABASE_INPUT_ERRORS as exc:  # say, a LIKE pattern ending in a backslash
            message = str(exc).split("\n")[0]
            raise ProblemError(400, f"the query cannot be run: {message}") from exc
        return json_response({"items": page.items, "next_cursor": page.next_cursor,
                              "total": page.total})

    async def get(self, request: Request) -> Response:
        id = self._id(request)
        async with self.pool().acquire() as conn:
            row = await self.repo.get(conn, id)
        if row is None:
            raise self._not_found(id)
        return json_response(row)

    async def create(self, request: Request) -> Response:
        values = validate_body(self.service, self.entity, parse_json_body(await request.body()),
                               "create")
        changes: list[Change] = []
        try:
            async with self.pool().acquire() as conn, conn.transaction():
                row = await self.repo.insert(conn, values, changes=changes)
                await self._notify(conn, "created", row, changes)
        except DATABASE_INPUT_ERRORS as exc:
            raise problem_from_database(exc, self.repo) from exc
        return json_response(row, 201, {"Location": f"{self.collection}/{row['id']}"})

    async def _update(self, request: Request, mode: BodyMode) -> Response:
        id = self._id(request)
        values = validate_body(self.service, self.entity, parse_json_body(await request.body()),
                               mode)
        changes: list[Change] = []
        try:
            async with self.pool().acquire() as conn, conn.transaction():
                row = await self.repo.update(conn, id, values, changes=changes)
                if row is None:
                    raise self._not_found(id)
                await self._notify(conn, "updated", row, changes)
        except DATABASE_INPUT_ERRORS as exc:
            raise problem_from_database(exc, self.repo) from exc
        return json_response(row)

    async def patch(self, request: Request) -> Response:
        return await self._update(request, "patch")

    async def put(self, request: Request) -> Response:
        return await self._update(request, "replace")

    async def delete(self, request: Request) -> Response:
        id = self._id(request)
        changes: list[Change] = []
        try:
            async with self.pool().acquire() as conn, conn.transaction():
                row = await self.repo.delete_row(conn, id, changes=changes)
                if row is None:
                    raise self._not_found(id)
                await self._notify(conn, "deleted", row, changes)
        except DATABASE_INPUT_ERRORS as exc:
            raise problem_from_database(exc, self.repo, deleting=True) from exc
        return Response(status_code=204)


def crud_routes(service: ServiceDefinition, pool: Any, repos: dict[str, EntityRepository],
                on_change: ChangeHook) -> list[Route]:
    """Routes of every CRUD operation the entities enable (collections first, then items).

    ``pool`` is an asyncpg pool, or a function returning it (when the pool is made later, in
    the app's lifespan). ``on_change(conn, entity, kind, row)`` runs inside each write's
    transaction: first for the row written, then for each child row written with it.
    """
    collections: list[Route] = []
    items: list[Route] = []
    for entity in service.entities:
        api = _EntityApi(service, entity, pool, repos[entity], on_change)
        base = api.collection
        table: dict[tuple[str, str], Endpoint] = {
            ("GET", base): api.list, ("POST", base): api.create,
            ("GET", f"{base}/{{id}}"): api.get, ("PATCH", f"{base}/{{id}}"): api.patch,
            ("PUT", f"{base}/{{id}}"): api.put, ("DELETE", f"{base}/{{id}}"): api.delete,
        }
        for method, path in service.crud_routes(entity):
            route = Route(path, _problems(table[(method, path)]), methods=[method],
                          name=f"{entity}.{table[(method, path)].__name__}")
            (items if path.endswith("{id}") else collections).append(route)
    return [*collections, *items]
