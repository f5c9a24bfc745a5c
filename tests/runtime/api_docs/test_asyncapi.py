"""The AsyncAPI 3.0 documents of the shop services: valid, and exact about the wire format."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.asyncapi import asyncapi_document
from tests.runtime.api_docs.conftest import SHOP_SERVICES

# The official AsyncAPI 3.0.0 JSON Schema (npm @asyncapi/specs 6.11.1, Apache-2.0), minified.
SPEC = Path(__file__).with_name("asyncapi-3.0.0.schema.json.gz")


def spec_errors(doc: dict[str, Any]) -> list[str]:
    jsonschema = importlib.import_module("jsonschema")
    schema = json.loads(gzip.decompress(SPEC.read_bytes()))
    return [f"{list(e.path)}: {e.message[:200]}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]


def message_validator(doc: dict[str, Any], key: str) -> Any:
    jsonschema = importlib.import_module("jsonschema")
    payload = doc["components"]["messages"][key]["payload"]
    schema = {**payload, "components": doc["components"]}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_the_spec_schema_catches_mistakes() -> None:
    broken = {"asyncapi": "3.0.0", "info": {"title": "x", "version": "1"},
              "operations": {"a": {"action": "shout", "channel": {"$ref": "#/channels/x"}}}}
    assert spec_errors(broken)


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_document_is_valid_asyncapi_3(shop: dict[str, ServiceDefinition], name: str) -> None:
    doc = asyncapi_document(shop[name], shop)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] == name
    assert spec_errors(doc) == []


@pytest.mark.parametrize("name", SHOP_SERVICES)
def test_one_send_per_published_and_one_receive_per_consumed_event(
    shop: dict[str, ServiceDefinition], name: str
) -> None:
    service = shop[name]
    doc = asyncapi_document(service, shop)
    sends = {k for k, op in doc["operations"].items() if op["action"] == "send"}
    receives = {k for k, op in doc["operations"].items() if op["action"] == "receive"}
    assert sends == {f"send.{name}.{event}" for event in service.publishes}
    consumed = {f"receive.{c.from_service}.{c.event}" for c in service.consumes}
    assert receives == consumed
    for key, op in doc["operations"].items():
        channel = doc["channels"][op["channel"]["$ref"].removeprefix("#/channels/")]
        assert channel["address"] is not None, key


def test_channels_are_the_topics(shop: dict[str, ServiceDefinition]) -> None:
    doc = asyncapi_document(shop["orders"], shop)
    placed = doc["channels"]["orders.OrderPlaced"]
    assert placed["address"] == "orders.OrderPlaced.v1"
    assert placed["bindings"]["kafka"]["topic"] == "orders.OrderPlaced.v1"
    assert placed["messages"] == {
        "OrderPlaced": {"$ref": "#/components/messages/orders.OrderPlaced"}}
    assert doc["channels"]["payments.PaymentProcessed"]["address"] == (
        shop["payments"].topic("PaymentProcessed"))


def test_messages_carry_the_envelope_headers_and_key(shop: dict[str, ServiceDefinition]) -> None:
    doc = asyncapi_document(shop["orders"], shop)
    message = doc["components"]["messages"]["orders.OrderPlaced"]
    assert message["contentType"] == "application/json"
    assert message["correlationId"] == {"location": "$message.payload#/data/order_id"}
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    headers = doc["components"]["schemas"][message["headers"]["$ref"].split("/")[-1]]
    assert headers["required"] == ["lcdev-event-id", "lcdev-event"]
    assert {"traceparent", "tracestate"} <= set(headers["properties"])
    envelope = doc["components"]["schemas"]["orders.OrderPlaced.envelope"]
    assert envelope["required"] == ["id", "event", "source", "time", "data"]
    assert envelope["properties"]["event"] == {"const": "OrderPlaced"}
    assert envelope["properties"]["source"] == {"const": "orders"}
    data = doc["components"]["schemas"]["orders.OrderPlaced.payload"]
    assert data["required"] == ["order_id", "customer_id", "lines"]
    assert data["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/orders.OrderLine"}


def test_a_real_envelope_validates_and_a_wrong_one_does_not(
    shop: dict[str, ServiceDefinition],
) -> None:
    doc = asyncapi_document(shop["payments"], shop)
    check = message_validator(doc, "payments.PaymentProcessed")
    envelope = {
        "id": "0b8f3c1e-56a4-4f3e-9a57-0d5c4c1f7a10", "event": "PaymentProcessed",
        "source": "payments", "time": "2024-05-01T12:00:00.123456+00:00",
        "data": {"order_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "amount": "12.50"},
    }
    assert check.is_valid(envelope)
    assert not check.is_valid({**envelope, "event": "PaymentFailed"})
    assert not check.is_valid({**envelope, "data": {"amount": "12.50"}})
    assert not check.is_valid({**envelope, "data": {**envelope["data"], "amount": 12.5}})
    consumed = message_validator(doc, "inventory.StockReserved")
    assert consumed.is_valid({**envelope, "event": "StockReserved", "source": "inventory",
                              "data": {"order_id": envelope["data"]["order_id"],
                                       "total": "30.00"}})


def test_without_the_workspace_consumed_topics_are_left_open(
    shop: dict[str, ServiceDefinition],
) -> None:
    doc = asyncapi_document(shop["notifications"])
    channel = doc["channels"]["payments.PaymentProcessed"]
    assert channel["address"] is None
    assert doc["components"]["schemas"]["payments.PaymentProcessed.payload"] == {
        "type": "object"}
    assert spec_errors(doc) == []


def test_multiple_consumers_of_one_event_share_a_receive(
    shop: dict[str, ServiceDefinition],
) -> None:
    doc = asyncapi_document(shop["payments"], shop)
    receive = doc["operations"]["receive.inventory.StockReserved"]
    assert receive["summary"].count("inserts a Payment when total") == 2


def test_the_runtime_envelope_of_a_row_event_matches_the_document(
    shop: dict[str, ServiceDefinition],
) -> None:
    import datetime as dt
    import uuid
    from decimal import Decimal

    from lcdev.runtime.events.outbox import payload_from_row
    from lcdev.runtime.events.wire import encode_envelope

    orders = shop["orders"]
    now = dt.datetime.now(dt.UTC)
    order_id = uuid.uuid4()
    row = {"id": order_id, "customer_id": uuid.uuid4(), "status": "new",
           "total": Decimal("30.00"), "reason": None, "created_at": now, "updated_at": now,
           "lines": [{"id": uuid.uuid4(), "order": order_id, "sku": "SKU-1", "quantity": 2,
                      "created_at": now, "updated_at": now}]}
    payload = json.dumps(payload_from_row(orders, "OrderPlaced", row))
    value = encode_envelope(uuid.uuid4(), "OrderPlaced", "orders", now, payload)
    doc = asyncapi_document(orders, shop)
    check = message_validator(doc, "orders.OrderPlaced")
    errors = [e.message for e in check.iter_errors(json.loads(value))]
    assert errors == []
