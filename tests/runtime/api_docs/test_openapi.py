"""The OpenAPI 3.1 documents of the shop services: valid, complete and exact."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.openapi import openapi_document
from lcdev.runtime.problems import ProblemError
from tests.runtime.api_docs.conftest import SHOP_SERVICES

PROBLEM_STATUSES = {"400", "401", "404", "409", "413", "415", "422", "429", "503"}


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def validator(doc: dict[str, Any], ref: str) -> Any:
    jsonschema = importlib.import_module("jsonschema")
    schema = {"$ref": ref, "components": doc["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_document_is_valid_openapi_3_1(shop: dict[str, ServiceDefinition], name: str) -> None:
    validate = importlib.import_module("openapi_spec_validator").validate
    doc = openapi_document(shop[name])
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {
        "title": name, "version": shop[name].version, "description": shop[name].description,
        "contact": {"name": shop[name].owner},
    }
    assert doc["servers"][0]["url"] == "/"
    validate(doc)


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_every_crud_route_and_endpoint_is_documented_once(
    shop: dict[str, ServiceDefinition], name: str
) -> None:
    service = shop[name]
    doc = openapi_document(service)
    documented = {(m, p) for m, p, _ in operations(doc)}
    expected = {route for entity in service.entities for route in service.crud_routes(entity)}
    expected |= {(ep.method, service.endpoint_path(n)) for n, ep in service.endpoints.items()}
    assert documented == expected
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_refs_resolve_and_errors_are_problems(
    shop: dict[str, ServiceDefinition], name: str
) -> None:
    doc = openapi_document(shop[name])
    for ref in set(refs(doc)):
        assert resolve(doc, ref) is not None, ref
    for method, path, op in operations(doc):
        statuses = set(op["responses"])
        assert "503" in statuses, (method, path)
        for status in statuses & PROBLEM_STATUSES:
            response = resolve(doc, op["responses"][status]["$ref"])
            assert list(response["content"]) == ["application/problem+json"]
        for status in statuses - PROBLEM_STATUSES:
            assert status in ("200", "201", "204"), (method, path, status)
            assert "X-Request-Id" in op["responses"][status]["headers"]
        if "requestBody" in op:
            assert list(op["requestBody"]["content"]) == ["application/json"]
            assert {"413", "415", "422"} <= statuses


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_examples_match_their_schemas(shop: dict[str, ServiceDefinition], name: str) -> None:
    doc = openapi_document(shop[name])
    checked = 0
    for method, path, op in operations(doc):
        media = [op["requestBody"]["content"]["application/json"]] if "requestBody" in op else []
        media += [r["content"]["application/json"] for r in op["responses"].values()
                  if "content" in r]
        for item in media:
            if "example" in item and "$ref" in item["schema"]:
                errors = list(validator(doc, item["schema"]["$ref"]).iter_errors(item["example"]))
                assert not errors, (method, path, [e.message for e in errors])
                checked += 1
    assert checked > 0


def test_orders_schemas_follow_the_field_types(shop: dict[str, ServiceDefinition]) -> None:
    doc = openapi_document(shop["orders"])
    schemas = doc["components"]["schemas"]
    order = schemas["Order"]["properties"]
    assert order["id"] == {"type": "string", "format": "uuid", "readOnly": True}
    assert order["customer_id"] == {"type": "string", "format": "uuid"}
    assert order["total"]["type"] == ["string", "null"]
    assert order["total"]["format"] == "decimal"
    assert order["total"]["pattern"] == r"^\d{1,10}(\.\d{1,2})?$"
    assert order["status"]["enum"] == ["new", "paid", "rejected", "cancelled"]
    assert order["status"]["default"] == "new"
    assert order["lines"]["items"] == {"$ref": "#/components/schemas/OrderLine"}
    assert "created_at" in schemas["Order"]["required"]
    create = schemas["OrderCreate"]
    assert create["additionalProperties"] is False
    assert create["required"] == ["customer_id", "lines"]
    lines = create["properties"]["lines"]
    assert (lines["minItems"], lines["maxItems"]) == (1, 100)
    assert set(lines["items"]["properties"]) == {"sku", "quantity"}
    assert lines["items"]["additionalProperties"] is False
    quantity = lines["items"]["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 1000)
    assert schemas["OrderLine"]["properties"]["sku"]["maxLength"] == 40
    assert "required" not in schemas["OrderPatch"]
    page = schemas["OrderPage"]
    assert page["required"] == ["items", "next_cursor", "total"]
    assert page["properties"]["total"]["type"] == ["integer", "null"]
    assert "lines" in schemas["Order"]["required"]  # children are embedded in every read


def test_order_validation_rejects_what_the_service_rejects(
    shop: dict[str, ServiceDefinition],
) -> None:
    doc = openapi_document(shop["orders"])
    check = validator(doc, "#/components/schemas/OrderCreate")
    good = {"customer_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "lines": [{"sku": "SKU-1", "quantity": 2}]}
    assert check.is_valid(good)
    assert not check.is_valid({**good, "total": 12.5})
    assert not check.is_valid({**good, "total": "12.505"})
    assert not check.is_valid({**good, "total": "-1"})
    assert not check.is_valid({**good, "lines": []})
    assert not check.is_valid({**good, "lines": [{"sku": "SKU-1", "quantity": 0}]})
    assert not check.is_valid({**good, "surprise": 1})
    assert check.is_valid({**good, "total": "12.50", "reason": None})


def test_list_parameters_cover_filters_order_and_paging(
    shop: dict[str, ServiceDefinition],
) -> None:
    doc = openapi_document(shop["orders"])
    params = {p["name"]: p for p in doc["paths"]["/orders/orders"]["get"]["parameters"]}
    assert params["status"]["schema"]["enum"] == ["new", "paid", "rejected", "cancelled"]
    assert params["status[in]"]["style"] == "form"
    assert params["status[in]"]["explode"] is False
    assert params["total[gte]"]["schema"]["format"] == "decimal"
    assert params["reason[ilike]"]["schema"]["type"] == "string"
    assert params["status[like]"]["schema"]["type"] == "string"
    assert "status[gt]" not in params
    assert params["status"]["schema"]["enum"] == params["status[ne]"]["schema"]["enum"]
    assert "status[eq]" not in params
    assert params["created_at[lt]"]["schema"]["format"] == "date-time"
    assert params["reason[is_null]"]["schema"] == {"type": "boolean"}
    assert "lines" not in params
    assert "lines[eq]" not in params
    assert params["limit"]["schema"]["minimum"] == 1
    assert params["limit"]["schema"]["maximum"] == 500
    assert params["sort"]["schema"]["pattern"].startswith("^-?(id|customer_id|status|")
    assert {"sort", "cursor", "count"} <= set(params)
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    lines = {p["name"] for p in doc["paths"]["/orders/order-lines"]["get"]["parameters"]}
    assert {"order", "order[in]", "order[is_null]"} <= lines
    assert "order[gt]" not in lines  # refs are not ordered


def test_links_lead_from_create_and_list_to_the_row(shop: dict[str, ServiceDefinition]) -> None:
    doc = openapi_document(shop["orders"])
    created = doc["paths"]["/orders/orders"]["post"]["responses"]["201"]["links"]
    assert created["GetOrder"] == {"operationId": "getOrder",
                                   "parameters": {"id": "$response.body#/id"},
                                   "description": "The Order created here"}
    assert created["Cancel"]["operationId"] == "cancel"
    listed = doc["paths"]["/orders/orders"]["get"]["responses"]["200"]["links"]
    assert listed["GetOrder"]["parameters"] == {"id": "$response.body#/items/0/id"}
    lines = doc["paths"]["/orders/order-lines"]["get"]["responses"]["200"]["links"]
    assert lines["GetOrderLine"]["operationId"] == "getOrderLine"


def test_custom_endpoints(shop: dict[str, ServiceDefinition]) -> None:
    cancel = openapi_document(shop["orders"])["paths"]["/orders/orders/{id}/cancel"]["post"]
    assert cancel["parameters"][0]["schema"] == {"type": "string", "format": "uuid"}
    assert "status in [new]" in cancel["description"]
    assert cancel["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Order"}
    assert {"404", "409"} <= set(cancel["responses"])
    assert "requestBody" not in cancel
    reserve = openapi_document(shop["inventory"])["paths"]["/inventory/reservations"]["post"]
    body = reserve["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["order_id", "lines"]
    assert body["additionalProperties"] is False
    assert {"200", "204", "422"} <= set(reserve["responses"])


def test_security_follows_the_gateway_policy(shop: dict[str, ServiceDefinition]) -> None:
    orders = openapi_document(shop["orders"])
    assert orders["security"] == [{"bearerAuth": []}]
    assert orders["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    for _, _, op in operations(orders):
        assert {"401", "429"} <= set(op["responses"])
    open_doc = openapi_document(shop["payments"])
    assert "security" not in open_doc
    assert "securitySchemes" not in open_doc["components"]
    for _, _, op in operations(open_doc):
        assert not {"401", "429"} & set(op["responses"])


def test_route_overrides_change_one_operation() -> None:
    service = ServiceDefinition.model_validate({
        "name": "notes", "version": "2.1.0",
        "entities": {"Note": {"fields": {"text": "text!"}, "crud": ["list", "get", "create"]}},
        "gateway": {
            "auth": {"type": "api_key", "secret": "keys", "header": "X-Key"},
            "routes": [{"path": "/notes/notes", "methods": ["GET"], "auth": "none"},
                       {"path": "/notes/notes", "methods": ["POST"],
                        "rate_limit": {"requests": 5, "per": "1m"}}],
        },
    })
    doc = openapi_document(service)
    assert doc["info"]["version"] == "2.1.0"
    assert doc["security"] == [{"apiKey_X-Key": []}]
    assert doc["components"]["securitySchemes"]["apiKey_X-Key"] == {
        "type": "apiKey", "in": "header", "name": "X-Key"}
    listed = doc["paths"]["/notes/notes"]["get"]
    assert listed["security"] == []
    assert "401" not in listed["responses"]
    created = doc["paths"]["/notes/notes"]["post"]
    assert "security" not in created
    assert {"401", "429"} <= set(created["responses"])
    assert "delete" not in doc["paths"].get("/notes/notes/{id}", {})


def _sample(schema: dict[str, Any]) -> str:
    if schema.get("type") == "array":
        return ",".join([_sample(schema["items"])] * 2)
    if "enum" in schema:
        return str(schema["enum"][0])
    formats = {"uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "decimal": "12.50",
               "date-time": "2024-05-01T12:00:00Z", "date": "2024-05-01"}
    if schema.get("format") in formats:
        return formats[schema["format"]]
    return {"integer": "3", "boolean": "true"}.get(schema.get("type", ""), "abc%")


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_every_documented_list_parameter_is_accepted_by_the_runtime(
    shop: dict[str, ServiceDefinition], name: str
) -> None:
    from lcdev.runtime.data import parse_list_query

    service = shop[name]
    doc = openapi_document(service)
    for entity in service.entities:
        if "list" not in service.entities[entity].crud:
            continue
        params = doc["paths"][service.collection_path(entity)]["get"]["parameters"]
        for param in params:
            if param["name"] == "cursor":
                continue
            value = "-id,created_at" if param["name"] == "sort" else _sample(param["schema"])
            query = parse_list_query(service, entity, [(param["name"], value)])
            assert query is not None, param["name"]
        documented = {p["name"] for p in params}
        valid = {"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                 "created_at": "2024-05-01T12:00:00Z"}
        for column, value in valid.items():
            for op in ("gt", "like", "ilike", "bogus"):
                if f"{column}[{op}]" not in documented:
                    with pytest.raises(ProblemError):
                        parse_list_query(service, entity, [(f"{column}[{op}]", value)])


def test_odd_names_stay_unambiguous() -> None:
    service = ServiceDefinition.model_validate({
        "name": "odd",
        "entities": {"Item": {"fields": {"limit": "integer", "sort": "string(5)",
                                          "meta": "json"}}},
        "endpoints": {"list_items": {"method": "GET", "path": "/all", "entity": "Item",
                                     "handler": "h:f"}},
    })
    doc = openapi_document(service)
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert "listItemsEndpoint" in ids
    assert "listItems" in ids
    params = {p["name"] for p in doc["paths"]["/odd/items"]["get"]["parameters"]}
    assert {"limit[eq]", "sort[eq]", "meta[is_null]"} <= params
    assert "meta" not in params
    validate = importlib.import_module("openapi_spec_validator").validate
    validate(doc)
