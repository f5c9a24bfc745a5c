"""The OpenAPI document holds to what the running service answers: every status code, content
type and body of real requests to the shop's orders service (CRUD, a custom endpoint and the
middleware) is documented for its operation and validates against the documented schema."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from lcdev.runtime.api.crud import crud_routes
from lcdev.runtime.api.endpoints import EndpointRunner
from lcdev.runtime.api.middleware import ServiceMiddleware, problem_exception_handlers
from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.data import migrate, repositories
from lcdev.runtime.events.outbox import change_publisher, enqueue
from tests.runtime.api_docs.conftest import SHOP
from tests.runtime.api_endpoints.helpers import service_from_yaml, unique_name


class Conformance:
    """Checks responses against the document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.jsonschema = pytest.importorskip("jsonschema")
        self.doc = doc
        self.templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p)
                          for p in doc["paths"]]
        self.seen: set[tuple[str, str, int]] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        matches = [t for rx, t in self.templates if rx.match(path)
                   and method.lower() in self.doc["paths"][t]]
        literal = [t for t in matches if "{" not in t]  # /orders/orders beats /orders/{id}
        template = (literal or matches)[0]
        return template, self.doc["paths"][template][method.lower()]

    def check(self, response: httpx.Response) -> httpx.Response:
        method, path = response.request.method, response.request.url.path
        template, op = self.operation(method, path)
        status = str(response.status_code)
        assert status in op["responses"], (method, path, status, response.text)
        documented = op["responses"][status]
        if "$ref" in documented:
            documented = self.doc["components"]["responses"][documented["$ref"].split("/")[-1]]
        content = documented.get("content", {})
        if not content:
            assert response.content == b"", (method, path, status)
        else:
            media = response.headers["content-type"].split(";")[0]
            assert media in content, (method, path, status, media)
            schema = {**content[media]["schema"], "components": self.doc["components"]}
            validator = self.jsonschema.Draft202012Validator(
                schema, format_checker=self.jsonschema.FormatChecker())
            errors = [e.message for e in validator.iter_errors(response.json())]
            assert not errors, (method, path, status, errors)
        for header in documented.get("headers", {}):
            if header in ("X-Request-Id", "Location"):
                assert header.lower() in response.headers, (method, path, header)
        self.seen.add((method, template, response.status_code))
        return response


def test_the_orders_service_answers_as_documented(pg_dsn: str) -> None:
    service = service_from_yaml((SHOP / "orders" / "service.yaml").read_text(),
                                unique_name("oa"))
    doc = openapi_document(service)
    check = Conformance(doc)

    async def go() -> None:
        await migrate(pg_dsn, service)
        pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
        repos = repositories(service)
        runner = EndpointRunner(service, repos, publish=enqueue,
                                on_change=change_publisher(service))
        app = Starlette(routes=[*crud_routes(service, pool, repos, change_publisher(service)),
                                *runner.routes(pool)],
                        middleware=[ServiceMiddleware.as_middleware()],
                        exception_handlers=problem_exception_handlers())
        transport = httpx.ASGITransport(app=app)
        base = service.collection_path("Order")
        lines_base = service.collection_path("OrderLine")
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
                order = {"customer_id": str(uuid.uuid4()), "total": "30.00",
                         "lines": [{"sku": "SKU-1", "quantity": 2}]}
                created = check.check(await c.post(base, json=order)).json()
                other = check.check(await c.post(base, json=order)).json()
                check.check(await c.post(base, json={**order, "lines": [], "x": 1}))
                check.check(await c.post(base, content=b"{", headers={
                    "Content-Type": "application/json"}))
                check.check(await c.post(base, content=b"a", headers={
                    "Content-Type": "text/plain"}))
                check.check(await c.post(base, content=b" " * (1024 * 1024 + 1), headers={
                    "Content-Type": "application/json"}))
                check.check(await c.get(base, params={"status": "new", "total[gte]": "1",
                                                      "sort": "-created_at", "count": "true",
                                                      "limit": "1"}))
                check.check(await c.get(base, params={"status[gt]": "new"}))
                check.check(await c.get(f"{base}/{created['id']}"))
                check.check(await c.get(f"{base}/{uuid.uuid4()}"))
                check.check(await c.get(f"{base}/not-a-uuid"))
                check.check(await c.patch(f"{base}/{created['id']}", json={"reason": "x"}))
                check.check(await c.patch(f"{base}/{created['id']}", json={"status": "lost"}))
                check.check(await c.put(f"{base}/{created['id']}", json=order))
                check.check(await c.post(f"{base}/{created['id']}/cancel"))
                check.check(await c.post(f"{base}/{created['id']}/cancel"))
                check.check(await c.post(f"{base}/{uuid.uuid4()}/cancel"))
                lines = check.check(await c.get(lines_base)).json()["items"]
                check.check(await c.get(f"{lines_base}/{lines[0]['id']}"))
                check.check(await c.delete(f"{base}/{other['id']}"))
                check.check(await c.delete(f"{base}/{other['id']}"))
        finally:
            await pool.close()

    asyncio.run(go())
    statuses = {status for _, _, status in check.seen}
    assert statuses >= {200, 201, 204, 400, 404, 409, 413, 415, 422}
