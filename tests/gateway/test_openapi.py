"""The merged OpenAPI document of the workspace at ``/_lcdev/openapi.json``."""

from __future__ import annotations

from typing import Any

import httpx

from tests.gateway.conftest import GatewayFactory, Upstream, route

MONEY = {"type": "string", "format": "decimal"}


def _document(prefix: str, problem: dict[str, Any]) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Problem"}
    return {
        "openapi": "3.1.0",
        "info": {"title": prefix, "version": "1.0.0"},
        "tags": [{"name": prefix.strip("/")}],
        "paths": {
            prefix: {"get": {"operationId": "list", "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Money"}}}},
                "400": {"description": "bad", "content": {"application/problem+json": {
                    "schema": ref}}}}}},
            f"{prefix}/{{id}}": {"get": {"operationId": "get", "responses": {
                "404": {"description": "missing", "content": {"application/problem+json": {
                    "schema": ref}}}}}},
        },
        "components": {"schemas": {"Problem": problem, "Money": MONEY}},
    }


def test_documents_of_running_services_are_merged(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    orders_problem = {"type": "object", "properties": {"title": {"type": "string"}}}
    payments_problem = {"type": "object", "properties": {"code": {"type": "integer"}}}
    upstream.openapi = {"orders": _document("/orders", orders_problem),
                        "payments": _document("/payments", payments_problem)}
    gateway = start_gateway({"workspace": "shop", "routes": [
        route("orders", "/orders", upstream.url, openapi="/orders/openapi.json"),
        route("payments", "/payments", upstream.url, openapi="/payments/openapi.json",
              policy={"auth": {"type": "jwt", "hs256_key": "k" * 32}},
              rules=[{"path": "/payments/{id}", "exact": True, "policy": {}}]),
        route("stock", "/stock", None, openapi="/stock/openapi.json"),
        route("ghost", "/ghost", upstream.url, openapi="/ghost/openapi.json"),
        route("legacy", "/legacy", upstream.url),
    ]})
    response = httpx.get(f"{gateway.url}/_lcdev/openapi.json", timeout=10)
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "shop workspace API"
    assert doc["servers"] == [{"url": gateway.url}]
    assert sorted(doc["paths"]) == ["/orders", "/orders/{id}", "/payments", "/payments/{id}"]
    schemas = doc["components"]["schemas"]
    assert schemas["Money"] == MONEY  # the same definition is shared
    assert schemas["Problem"] == orders_problem
    assert schemas["payments.Problem"] == payments_problem  # a clash is renamed ...
    payments_404 = doc["paths"]["/payments/{id}"]["get"]["responses"]["404"]
    assert payments_404["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/payments.Problem"}  # ... and its refs follow
    orders_list = doc["paths"]["/orders"]["get"]
    assert orders_list["operationId"] == "list"
    assert "security" not in orders_list
    payments_list = doc["paths"]["/payments"]["get"]
    assert payments_list["operationId"] == "payments.list"
    assert payments_list["security"] == [{"lcdev_jwt": []}]
    assert "security" not in doc["paths"]["/payments/{id}"]["get"]  # its rule has no auth
    assert doc["components"]["securitySchemes"]["lcdev_jwt"]["scheme"] == "bearer"
    assert [tag["name"] for tag in doc["tags"]] == ["orders", "payments"]
    services = doc["x-lcdev-services"]
    assert services["orders"] == {"status": "ok"}
    assert services["stock"] == {"status": "not running"}
    assert services["legacy"] == {"status": "no OpenAPI document"}
    assert services["ghost"] == {"status": "unavailable",
                                 "detail": "GET /ghost/openapi.json answered 404"}


def test_public_url_sets_the_server(start_gateway: GatewayFactory) -> None:
    gateway = start_gateway({"public_url": "http://localhost:8800", "routes": []})
    doc = httpx.get(f"{gateway.url}/_lcdev/openapi.json", timeout=10).json()
    assert doc["servers"] == [{"url": "http://localhost:8800"}]
    assert doc["paths"] == {}
