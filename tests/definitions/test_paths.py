"""Paths: collections and custom endpoints are relative to the service route; clashes are errors."""

from __future__ import annotations

from pathlib import Path

from lcdev.definitions import load_workspace

from .conftest import Writer, edit

ORDERS = "services/orders/service.yaml"


def problems(root: Path) -> list[str]:
    return [str(p) for p in load_workspace(root).problems]


def test_shop_paths_are_route_plus_plural_or_relative_path(shop: Path) -> None:
    services = load_workspace(shop).services
    orders, inventory = services["orders"], services["inventory"]
    assert orders.collection_path("Order") == "/orders/orders"
    assert orders.collection_path("OrderLine") == "/orders/order-lines"
    assert inventory.collection_path("Stock") == "/inventory/stocks"
    assert orders.crud_routes("OrderLine") == [
        ("GET", "/orders/order-lines"), ("GET", "/orders/order-lines/{id}")]
    assert orders.crud_routes("Order") == [
        ("GET", "/orders/orders"), ("GET", "/orders/orders/{id}"), ("POST", "/orders/orders"),
        ("PATCH", "/orders/orders/{id}"), ("PUT", "/orders/orders/{id}"),
        ("DELETE", "/orders/orders/{id}"),
    ]
    assert orders.endpoint_path("cancel") == "/orders/orders/{id}/cancel"
    assert inventory.endpoint_path("reserve") == "/inventory/reservations"


def test_declared_paths_are_relative_to_the_route(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(ORDERS, """\
        name: orders
        route: /shop/orders
        entities:
          OrderLine:
            path: /lines
            fields: {sku: string}
          Category:
            fields: {name: string}
        endpoints:
          summary:
            method: GET
            path: /
            handler: handlers:summary
        """)
    loaded = load_workspace(tmp_path)
    assert loaded.problems == []
    orders = loaded.services["orders"]
    assert orders.collection_path("OrderLine") == "/shop/orders/lines"
    assert orders.collection_path("Category") == "/shop/orders/categories"
    assert orders.endpoint_path("summary") == "/shop/orders"


def test_endpoint_clashing_with_crud_route(shop: Path) -> None:
    edit(shop / ORDERS, "path: /orders/{id}/cancel\n", "path: /orders/{id}\n")
    edit(shop / ORDERS, "method: POST\n", "method: PATCH\n")
    assert problems(shop) == [
        f"{ORDERS}:30:11: endpoint 'cancel': PATCH /orders/orders/{{id}} is also the Order"
        " CRUD route"
    ]


def test_clashing_endpoints_entities_and_reserved_paths(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(ORDERS, """\
        name: orders
        entities:
          Order:
            fields: {note: text}
          Basket:
            path: /orders
            fields: {note: text}
        endpoints:
          close:
            method: post
            path: /orders/{id}/close
            handler: handlers:close
          shut:
            method: POST
            path: /orders/{order_id}/close
            handler: handlers:shut
          health:
            method: GET
            path: /_lcdev/health
            handler: handlers:health
        """)
    assert problems(tmp_path) == [
        f"{ORDERS}:6:11: entity 'Basket': GET /orders/orders is also the Order CRUD route",
        f"{ORDERS}:15:11: endpoint 'shut': POST /orders/orders/{{order_id}}/close is also"
        " endpoint 'close'",
        f"{ORDERS}:19:11: endpoint 'health': path /orders/_lcdev/health is reserved by lcdev",
    ]


def test_malformed_and_reserved_declared_paths(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(ORDERS, """\
        name: orders
        entities:
          Stock:
            path: /stocks/{id}
          Doc:
            path: /openapi.json
        endpoints:
          relative:
            method: GET
            path: orders
            handler: handlers:relative
        """)
    assert problems(tmp_path) == [
        f"{ORDERS}:4:11: entity 'Stock': path must be segments of lower-case letters, digits,"
        " '.', '_' or '-' below the route, like '/lines', found '/stocks/{id}'",
        f"{ORDERS}:6:11: entity 'Doc': path '/openapi.json' is reserved by lcdev",
        f"{ORDERS}:10:11: endpoint 'relative': path must look like '/orders/{{id}}/cancel'"
        " (relative to the service route), found 'orders'",
    ]
