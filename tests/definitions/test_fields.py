"""Fields: short and full forms, type names, constraints and defaults, with exact messages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from lcdev.definitions import (
    EntityDefinition,
    ServiceDefinition,
    format_duration,
    load_model,
    parse_duration,
)
from lcdev.definitions.fields import FieldMap

from .conftest import Writer

FIELDS: TypeAdapter[dict[str, object]] = TypeAdapter(FieldMap)  # type: ignore[arg-type]


def service_problems(write: Writer, tmp_path: Path, body: str) -> list[str]:
    path = write("services/orders/service.yaml", "name: orders\n" + body)
    return [str(p) for p in load_model(path, ServiceDefinition, root=tmp_path)[1]]


@pytest.mark.parametrize(
    ("short", "full"),
    [
        ("string", {"type": "string"}),
        ("uuid!", {"type": "uuid", "required": True}),
        ("decimal(12, 2)", {"type": "decimal", "precision": 12, "scale": 2}),
        ("string(80)!", {"type": "string", "max_length": 80, "required": True}),
        (
            "enum(new, paid)! = new",
            {"type": "enum", "values": ["new", "paid"], "required": True, "default": "new"},
        ),
        ("ref(Order)", {"type": "ref", "entity": "Order"}),
        ("integer = 3", {"type": "integer", "default": 3}),
        ("boolean = false", {"type": "boolean", "default": False}),
    ],
)
def test_short_form_equals_full_form(short: str, full: dict[str, object]) -> None:
    parsed = FIELDS.validate_python({"a": short, "b": full})
    assert parsed["a"] == parsed["b"]


def test_defaults_are_typed() -> None:
    parsed = FIELDS.validate_python({"price": "decimal = 1.50", "n": {"type": "integer",
                                                                     "default": "7"}})
    assert parsed["price"].default == Decimal("1.50")  # type: ignore[attr-defined]
    assert parsed["n"].default == 7  # type: ignore[attr-defined]


def test_unknown_type_in_short_form(write: Writer, tmp_path: Path) -> None:
    body = """\
version: 1.0.0
description: >
  An orders service
  over several lines.
entities:
  Order:
    description: An order.
    timestamps: true
    crud: all
    fields:
      customer_id: uuid!
      total:
        decmal
"""
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:14:9: field 'total': unknown type 'decmal'"
        " (did you mean 'decimal'?)"
    ]


def test_unknown_type_in_full_form_has_the_same_message(write: Writer, tmp_path: Path) -> None:
    body = "entities:\n  Order:\n    fields:\n      total: {type: decmal, required: true}\n"
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:5:21: field 'total': unknown type 'decmal'"
        " (did you mean 'decimal'?)"
    ]


def test_unknown_field_option_suggests(write: Writer, tmp_path: Path) -> None:
    body = "entities:\n  Order:\n    fields:\n      note: {type: text, requird: true}\n"
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:5:26: field 'note': unknown key 'requird'"
        " (did you mean 'required'?)"
    ]


def test_constraint_problems_point_at_their_keys(write: Writer, tmp_path: Path) -> None:
    body = """\
entities:
  Order:
    fields:
      status: enum(new, paid) = shipped
      quantity: {type: integer, min: 5, max: 1}
      total: {type: decimal, precision: 4, scale: 6}
      code: {type: string, pattern: "[a-z", max_length: 3}
      flag: {type: boolean, min: 1}
      level: {type: integer, min: low}
"""
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:5:15: field 'status': default 'shipped' is not one of"
        " the values 'new', 'paid'",
        "services/orders/service.yaml:6:38: field 'quantity': min 5 is larger than max 1",
        "services/orders/service.yaml:7:51: field 'total': scale 6 is larger than precision 4",
        "services/orders/service.yaml:8:37: field 'code': invalid regular expression:"
        " unterminated character set at position 0",
        "services/orders/service.yaml:9:34: field 'flag': 'min' applies only to integer or"
        " decimal fields",
        "services/orders/service.yaml:10:35: field 'level': expected a number, found 'low'"
        " (a string)",
    ]


def test_implicit_fields_are_reserved(write: Writer, tmp_path: Path) -> None:
    body = "entities:\n  Order:\n    fields:\n      id: uuid\n      created_at: datetime\n"
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:5:11: field 'id': this name is reserved (every entity"
        " gets it automatically)",
        "services/orders/service.yaml:6:19: field 'created_at': this name is reserved (added"
        " automatically unless timestamps: false)",
    ]


def test_enum_default_suggestion_and_bad_short_arguments(write: Writer, tmp_path: Path) -> None:
    body = """\
entities:
  Order:
    fields:
      status: {type: enum, values: [new, paid], default: payd}
      total: decimal(a, b)
      count: integer(3)
"""
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:5:58: field 'status': default 'payd' is not one of the"
        " values 'new', 'paid' (did you mean 'paid'?)",
        "services/orders/service.yaml:6:14: field 'total': cannot read arguments (a, b) of"
        " type 'decimal'; write decimal(precision, scale)",
        "services/orders/service.yaml:7:14: field 'count': cannot read arguments (3) of type"
        " 'integer'; 'integer' takes no arguments",
    ]


def test_index_on_unknown_field(write: Writer, tmp_path: Path) -> None:
    body = """\
entities:
  Order:
    fields:
      customer_id: uuid
    indexes:
      - {fields: [customer_id, costumer], unique: true}
"""
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:7:32: index 1: unknown field 'costumer'"
        " (did you mean 'customer_id'?)"
    ]


def test_entity_defaults() -> None:
    entity = EntityDefinition.model_validate({"fields": {"sku": "string"}})
    assert entity.crud == ("list", "get", "create", "update", "delete")
    assert entity.all_field_names() == ["id", "created_at", "updated_at", "sku"]
    no_ts = EntityDefinition.model_validate({"fields": {}, "timestamps": False, "crud": "none"})
    assert no_ts.crud == ()
    assert no_ts.all_field_names() == ["id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100ms", timedelta(milliseconds=100)), ("5s", timedelta(seconds=5)),
     ("2m", timedelta(minutes=2)), ("1h", timedelta(hours=1)), ("1.5s", timedelta(seconds=1.5))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


def test_bad_duration(write: Writer, tmp_path: Path) -> None:
    body = "gateway:\n  rate_limit: {requests: 10, per: 1 sec}\n"
    assert service_problems(write, tmp_path, body) == [
        "services/orders/service.yaml:3:35: expected a duration like '100ms', '5s', '2m' or"
        " '1h', found '1 sec' (a string)"
    ]
    with pytest.raises(ValueError, match="found 5 \\(an integer\\)"):
        parse_duration(5)


def test_model_errors_are_validation_errors() -> None:
    with pytest.raises(ValidationError):
        FIELDS.validate_python({"a": "enum"})
