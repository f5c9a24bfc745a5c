"""Seed rows: checked against the entity's fields, returned in Python types for the runtime."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from lcdev.definitions import load_workspace

from .conftest import Writer, edit

INVENTORY = "services/inventory/service.yaml"
CATALOG = "services/catalog/service.yaml"


def problems(root: Path) -> list[str]:
    return [str(p) for p in load_workspace(root).problems]


def test_shop_stock_is_seeded(shop: Path) -> None:
    stock = load_workspace(shop).services["inventory"].entities["Stock"]
    assert [(r["sku"], r["available"], r["unit_price"]) for r in stock.seed] == [
        ("SKU-1", 100, Decimal("9.99")),
        ("SKU-2", 50, Decimal("24.50")),
        ("SKU-3", 0, Decimal("5.00")),
    ]
    assert all(isinstance(r["name"], str) and r["name"] for r in stock.seed)


def test_values_take_their_python_types(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(CATALOG, """\
        name: catalog
        entities:
          Product:
            fields:
              code: uuid!
              launched: date
              active: boolean = true
              tags: json
              kind: enum(book, toy)
              count: integer
            seed:
              - code: 6f1c27a6-8f43-4c55-9d2e-8d0c2f4b8e11
                launched: 2024-05-01
                active: false
                tags: [new, sale]
                kind: toy
                count: "7"
              - {code: 0b7d6b3a-0000-4000-8000-000000000001, launched: null}
        """)
    loaded = load_workspace(tmp_path)
    assert loaded.problems == []
    first, second = loaded.services["catalog"].entities["Product"].seed
    assert first == {
        "code": uuid.UUID("6f1c27a6-8f43-4c55-9d2e-8d0c2f4b8e11"),
        "launched": dt.date(2024, 5, 1),
        "active": False,
        "tags": ["new", "sale"],
        "kind": "toy",
        "count": 7,
    }
    assert second == {"code": uuid.UUID("0b7d6b3a-0000-4000-8000-000000000001"),
                      "launched": None}


def test_bad_seed_rows_point_at_their_values(shop: Path) -> None:
    edit(shop / INVENTORY,
         "      - {sku: SKU-1, name: Espresso cup, available: 100, unit_price: 9.99}\n",
         "      - {sku: SKU-1, nme: Espresso cup, available: -1, unit_price: 9.999}\n")
    edit(shop / INVENTORY,
         "      - {sku: SKU-2, name: Coffee grinder, available: 50, unit_price: 24.50}\n",
         "      - {sku: SKU-1, name: null, available: many, unit_price: 24.50, lines: []}\n")
    edit(shop / INVENTORY,
         "      - {sku: SKU-3, name: Milk jug, available: 0, unit_price: 5.00}\n",
         "      - {sku: SKU-3-IS-FAR-TOO-LONG-FOR-THE-FORTY-CHARACTERS, name: Jug,"
         " unit_price: 12345678901.5}\n")
    assert problems(shop) == [
        f"{INVENTORY}:16:9: entity 'Stock', seed row 1: missing required field 'name'",
        f"{INVENTORY}:16:22: entity 'Stock', seed row 1: unknown field 'nme'"
        " (did you mean 'name'?)",
        f"{INVENTORY}:16:52: entity 'Stock', seed row 1: field 'available': value -1 is below"
        " min 0",
        f"{INVENTORY}:16:68: entity 'Stock', seed row 1: field 'unit_price': value 9.999 has"
        " more than 2 digits after the point",
        f"{INVENTORY}:17:15: entity 'Stock', seed row 2: field 'sku': value 'SKU-1' is also in"
        " seed row 1 (the field is unique)",
        f"{INVENTORY}:17:28: entity 'Stock', seed row 2: field 'name' is required and cannot"
        " be null",
        f"{INVENTORY}:17:45: entity 'Stock', seed row 2: field 'available': value 'many' is"
        " not an integer",
        f"{INVENTORY}:17:70: entity 'Stock', seed row 2: unknown field 'lines'",
        f"{INVENTORY}:18:15: entity 'Stock', seed row 3: field 'sku': value"
        " 'SKU-3-IS-FAR-TOO-LONG-FOR-THE-FORTY-CHARACTERS' is longer than max_length 40",
        f"{INVENTORY}:18:86: entity 'Stock', seed row 3: field 'unit_price': value"
        " 12345678901.5 has more than 10 digits before the point",
    ]
    edit(shop / INVENTORY, "      - {sku: SKU-3-IS", "      - [SKU-4]\n      - {sku: SKU-3-IS")
    assert problems(shop) == [
        f"{INVENTORY}:18:9: entity 'Stock', seed row 3: expected a mapping, found a list",
    ]


def test_enum_values_and_child_collections_in_seed_rows(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write(CATALOG, """\
        name: catalog
        entities:
          Shelf:
            fields:
              state: enum(open, closed)!
              items: list(Item)
            seed:
              - {state: opne, items: []}
          Item:
            fields: {shelf: ref(Shelf)!}
        """)
    assert problems(tmp_path) == [
        f"{CATALOG}:8:17: entity 'Shelf', seed row 1: field 'state': value 'opne' is not one"
        " of the values 'open', 'closed' (did you mean 'open'?)",
        f"{CATALOG}:8:23: entity 'Shelf', seed row 1: field 'items' is a child collection;"
        " seed rows hold column values only",
    ]
