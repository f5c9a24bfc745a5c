"""Child collections: ``list`` fields, their back-refs, and where a list field may not be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcdev.definitions import EntityDefinition, load_workspace

from .conftest import Writer, edit

ORDERS = "services/orders/service.yaml"
INVENTORY = "services/inventory/service.yaml"


def problems(root: Path) -> list[str]:
    return [str(p) for p in load_workspace(root).problems]


def service(write: Writer, body: str) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(ORDERS, "name: orders\n" + body)


def test_shop_order_has_its_lines_as_a_child_collection(shop: Path) -> None:
    orders = load_workspace(shop).services["orders"]
    order, line = orders.entities["Order"], orders.entities["OrderLine"]
    assert order.child_collections() == {"lines": ("OrderLine", "order")}
    assert list(order.columns()) == ["customer_id", "status", "total", "reason"]
    lines = order.fields["lines"]
    assert (lines.type, lines.entity, lines.min_items, lines.max_items, lines.required) == (
        "list", "OrderLine", 1, 100, True)
    assert not lines.is_column
    assert line.child_collections() == {}
    assert list(line.columns()) == ["order", "sku", "quantity"]
    assert line.fields["order"].storage_column("order") == "order"


def test_short_form_and_unbound_entity(write: Writer, tmp_path: Path) -> None:
    service(write, """\
        entities:
          Basket:
            fields: {items: "list(Item)!"}
          Item:
            fields: {basket: ref(Basket), sku: string}
        """.replace("        ", ""))
    loaded = load_workspace(tmp_path)
    assert loaded.problems == []
    basket = loaded.services["orders"].entities["Basket"]
    assert basket.fields["items"].required
    assert basket.child_collections() == {"items": ("Item", "basket")}
    alone = EntityDefinition.model_validate({"fields": {"items": "list(Item)"}})
    with pytest.raises(LookupError, match="resolved by the ServiceDefinition"):
        alone.child_collections()
    assert EntityDefinition.model_validate({"fields": {"a": "text"}}).child_collections() == {}


def test_list_field_options(write: Writer, tmp_path: Path) -> None:
    write(ORDERS, """\
        name: orders
        entities:
          Order:
            fields:
              a: {type: list, entity: Line, min_items: 3, max_items: 2}
              b: {type: list, entity: Line, unique: true, index: true}
              c: list
              d: {type: integer, min_items: 1}
              e: {type: list, entity: Line, on_delete: cascade}
        endpoints:
          add:
            method: POST
            path: /add
            request: {lines: list(Line)}
            handler: handlers:add
        publishes:
          Added:
            payload:
              lines: {type: list, entity: Line}
        """)
    write("lcdev.yaml", "name: shop\n")
    assert problems(tmp_path) == [
        f"{ORDERS}:5:48: field 'a': min_items 3 is larger than max_items 2",
        f"{ORDERS}:6:45: field 'b': list fields cannot be unique",
        f"{ORDERS}:6:58: field 'b': a list field is not a column and cannot be indexed",
        f"{ORDERS}:7:10: field 'c': a list needs its 'entity', e.g. list(OrderLine)",
        f"{ORDERS}:8:37: field 'd': 'min_items' applies only to list fields",
        f"{ORDERS}:9:48: field 'e': 'on_delete' applies only to ref fields",
        f"{ORDERS}:14:22: request field 'lines': 'list' fields are child collections of"
        " entities; use 'json' for an array here",
        f"{ORDERS}:19:21: payload field 'lines': 'list' fields are child collections of"
        " entities; use 'json' for an array here",
    ]


def test_list_field_cannot_have_a_default(write: Writer, tmp_path: Path) -> None:
    service(write, "entities:\n  Order:\n    fields:\n"
            "      lines: {type: list, entity: Line, default: []}\n")
    assert problems(tmp_path) == [
        f"{ORDERS}:5:41: field 'lines': a list field cannot have a default",
    ]


def test_child_needs_exactly_one_back_ref(write: Writer, tmp_path: Path) -> None:
    service(write, """\
entities:
  Order:
    fields:
      lines: list(OrderLine)!
      notes: {type: list, entity: Note}
      again: list(OrderLine)
      items: list(Itme)
      tasks: list(Task)
  OrderLine:
    fields:
      order: ref(Order)!
      replaces: ref(Order)
  Note:
    fields: {text: text}
  Task:
    fields:
      order: ref(Order)
      steps: list(Step)
  Step:
    fields: {task: ref(Task)}
""")
    assert problems(tmp_path) == [
        f"{ORDERS}:5:14: field 'lines': OrderLine has several ref fields to Order (order,"
        " replaces); a child collection needs exactly one",
        f"{ORDERS}:6:35: field 'notes': Note has no ref field to Order; add one, e.g."
        " 'order: ref(Order)!'",
        f"{ORDERS}:7:14: field 'again': OrderLine has several ref fields to Order (order,"
        " replaces); a child collection needs exactly one",
        f"{ORDERS}:7:14: field 'again': OrderLine is already the child collection 'lines' of"
        " Order",
        f"{ORDERS}:8:14: field 'items': unknown entity 'Itme'",
        f"{ORDERS}:9:14: field 'tasks': Task has child collections itself (steps); children"
        " are one level deep",
    ]


def test_misspelt_back_ref_is_reported_once(shop: Path) -> None:
    edit(shop / ORDERS, "entity: Order, on_delete", "entity: Ordr, on_delete")
    assert problems(shop) == [
        f"{ORDERS}:21:34: field 'order': unknown entity 'Ordr' (did you mean 'Order'?)"
    ]


def test_list_field_is_not_a_column(shop: Path) -> None:
    edit(shop / ORDERS, "guard: status in [new]", "guard: lines == 1")
    edit(shop / ORDERS, "set: {status: cancelled}", "set: {lines: cancelled}")
    edit(shop / ORDERS, "      - [customer_id, status]\n", "      - [customer_id, lines]\n")
    edit(shop / ORDERS, "match: {id: order_id}\n    map: {total: amount}",
         "match: {lines: order_id}\n    map: {total: amount}")
    assert problems(shop) == [
        f"{ORDERS}:17:9: index 1: field 'lines' is a child collection, not a column",
    ]
    edit(shop / ORDERS, "      - [customer_id, lines]\n", "      - [customer_id, status]\n")
    assert problems(shop) == [
        f"{ORDERS}:32:12: endpoint 'cancel': field 'lines' is a child collection, not a column",
        f"{ORDERS}:33:11: endpoint 'cancel': field 'lines' is a child collection, not a column",
        f"{ORDERS}:61:13: consumer of 'PaymentProcessed': field 'lines' is a child collection,"
        " not a column",
    ]


def test_event_payload_from_a_child_collection_must_be_json(shop: Path) -> None:
    edit(shop / ORDERS, "      lines: json!\n", "      items: text\n")
    edit(shop / ORDERS, "map: {order_id: id}\n    payload:\n      order_id: uuid!\n      cus",
         "map: {order_id: id, items: lines}\n    payload:\n      order_id: uuid!\n      cus")
    assert problems(shop) == [
        f"{INVENTORY}:63:15: consumer of 'OrderPlaced': endpoint 'reserve' requires 'lines',"
        " which event OrderPlaced does not carry",
        f"{ORDERS}:46:14: event 'OrderPlaced': payload field 'items' takes the child collection"
        " 'lines' of Order; declare it as json",
    ]
