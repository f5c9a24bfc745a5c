"""Request bodies: every problem reported at once with the field's path; values converted to
the Python types asyncpg sends."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from lcdev.runtime.data import row_to_json, validate_create, validate_update
from lcdev.runtime.problems import ProblemError
from tests.runtime.data.helpers import shop

SERVICE = shop("bodies")
CUSTOMER = "6f1c1f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f"


def _errors(body: Any, entity: str = "Order", **kw: Any) -> list[dict[str, str]]:
    validate = validate_update if kw else validate_create
    with pytest.raises(ProblemError) as caught:
        validate(SERVICE, entity, body, **kw)
    assert caught.value.status == 422
    return caught.value.errors


def test_valid_create_converts_and_fills_defaults() -> None:
    values = validate_create(SERVICE, "Order", {
        "customer_id": CUSTOMER, "total": "12.50", "placed_on": "2024-05-01",
        "paid_at": "2024-05-01T12:00:00Z", "meta": {"a": [1, "x"]}, "priority": 3,
        "lines": [{"sku": "A", "quantity": 2}],
    })
    assert values["customer_id"] == uuid.UUID(CUSTOMER)
    assert values["total"] == Decimal("12.50")
    assert values["placed_on"] == dt.date(2024, 5, 1)
    assert values["paid_at"] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    assert values["status"] == "new"
    assert values["currency"] == "EUR"
    assert values["express"] is False
    assert values["reason"] is None
    assert values["lines"] == [{"sku": "A", "quantity": 2}]


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors({
        "total": 12.345, "status": "shipped", "note": "x" * 21, "priority": 9, "express": "yes",
        "paid_at": "2024-05-01T12:00:00", "placed_on": "May 1", "id": CUSTOMER, "colour": "red",
        "lines": [{"sku": "A", "quantity": 0}, {"quantity": "2", "order": CUSTOMER}],
    })
    assert {e["field"]: e["message"] for e in errors} == {
        "id": "is read-only (set by the server)",
        "colour": "unknown field",
        "customer_id": "is required",
        "status": "expected one of new, paid, rejected, cancelled, found 'shipped' (a string)",
        "total": "must have at most 2 decimal places",
        "note": "must be at most 20 characters long",
        "priority": "must be at most 5",
        "placed_on": "expected a date such as 2024-05-01, found 'May 1' (a string)",
        "paid_at": "expected a date-time with a time zone offset, such as 2024-05-01T12:00:00Z",
        "express": "expected true or false, found 'yes' (a string)",
        "lines[0].quantity": "must be at least 1",
        "lines[1].order": "is set from the parent; leave it out",
        "lines[1].sku": "is required",
        "lines[1].quantity": "expected an integer, found '2' (a string)",
    }


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"total": 1e30}, "total", "must have at most 10 digits before the point"),
    ({"total": -1}, "total", "must be at least 0"),
    ({"total": "NaN"}, "total", "expected a finite number"),
    ({"total": True}, "total", "expected a number or a numeric string, found true (a boolean)"),
    ({"priority": 2**63}, "priority", "is out of range (64-bit integer)"),
    ({"priority": 2.0}, "priority", "expected an integer, found 2.0 (a number)"),
    ({"reason": "a\x00b"}, "reason", "must not contain the NUL character (\\u0000)"),
    ({"meta": {"k": "\x00"}}, "meta", "must not contain the NUL character (\\u0000)"),
    ({"customer_id": "nope"}, "customer_id", "expected a UUID, found 'nope' (a string)"),
    ({"customer_id": None}, "customer_id", "must not be null"),
    ({"lines": [{}] * 6}, "lines", "must have at most 5 items"),
    ({"lines": {"sku": "A"}}, "lines", "expected an array of OrderLine objects, found an object"),
])
def test_single_problems(body: dict[str, Any], field: str, message: str) -> None:
    full = {"customer_id": CUSTOMER, "total": 1, **body}
    assert _errors(full) == [{"field": field, "message": message}]


def test_body_must_be_an_object() -> None:
    assert _errors([1, 2]) == [{"field": "", "message": "expected a JSON object, found an array"}]


def test_patch_is_partial_and_put_replaces() -> None:
    assert validate_update(SERVICE, "Order", {"reason": "late"}) == {"reason": "late"}
    assert _errors({"total": None}, partial=True) == [
        {"field": "total", "message": "must not be null"}]
    replaced = validate_update(SERVICE, "Order", {"customer_id": CUSTOMER, "total": 2},
                               partial=False)
    assert replaced["reason"] is None
    assert replaced["status"] == "new"
    assert replaced["lines"] == []
    assert _errors({"total": 2}, partial=False) == [
        {"field": "customer_id", "message": "is required"}]


def test_row_to_json_keeps_decimal_precision() -> None:
    row = {"id": uuid.UUID(CUSTOMER), "total": Decimal("0.00000001"),
           "at": dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC), "on": dt.date(2024, 1, 2),
           "lines": [{"price": Decimal("12.50")}], "meta": {"a": 1}}
    assert row_to_json(row) == {
        "id": CUSTOMER, "total": "0.00000001", "at": "2024-01-02T03:04:05.000006+00:00",
        "on": "2024-01-02", "lines": [{"price": "12.50"}], "meta": {"a": 1},
    }


@pytest.mark.parametrize("value", [
    None, True, 0, 1, -1, 6, 2**63, 2.0, 12.345, "12.50", "1e100000", "NaN", "x" * 21, "",
    "a\x00", "new", "shipped", CUSTOMER, "2024-05-01", "2024-05-01T12:00:00Z", [1], {"a": 1},
])
def test_compiled_readers_agree_with_the_reference(value: Any) -> None:
    """``field_reader`` (used by bodies) answers exactly like from_json + check_limits."""
    from lcdev.runtime.data import entity_model
    from lcdev.runtime.data.readers import field_reader
    from lcdev.runtime.data.values import check_limits, from_json

    if value is None:
        return
    for definition in entity_model(SERVICE, "Order").declared.values():
        try:
            expected: Any = from_json(definition, value)
            check_limits(definition, expected)
        except ValueError as exc:
            expected = ("error", str(exc))
        try:
            got: Any = field_reader(definition)(value)
        except ValueError as exc:
            got = ("error", str(exc))
        assert got == expected, (definition.type, value)
