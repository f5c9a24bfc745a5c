"""Parsing list query strings: filters, sort, limit, count and cursors; every mistake is a
400 problem naming the parameter."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal

import pytest

from lcdev.runtime.data import Filter, SortKey, parse_list_query
from lcdev.runtime.data.listquery import encode_cursor
from lcdev.runtime.problems import ProblemError
from tests.runtime.data.helpers import shop

SERVICE = shop("lists")


def _errors(params: list[tuple[str, str]], entity: str = "Order") -> list[dict[str, str]]:
    with pytest.raises(ProblemError) as caught:
        parse_list_query(SERVICE, entity, params)
    assert caught.value.status == 400
    return caught.value.errors


def test_filters_sort_limit_count() -> None:
    query = parse_list_query(SERVICE, "Order", [
        ("status", "new"), ("total[gte]", "10.5"), ("status[in]", "new,paid"),
        ("reason[is_null]", "true"), ("note[ilike]", "%rush%"), ("sort", "-total,priority"),
        ("limit", "20"), ("count", "true"),
    ])
    assert query.filters == (
        Filter("status", "eq", "new"), Filter("total", "gte", Decimal("10.5")),
        Filter("status", "in", ("new", "paid")), Filter("reason", "is_null", True),
        Filter("note", "ilike", "%rush%"),
    )
    assert query.sort == (SortKey("total", True), SortKey("priority"), SortKey("id"))
    assert (query.limit, query.count, query.after) == (20, True, None)


def test_defaults_and_reserved_word_fields() -> None:
    query = parse_list_query(SERVICE, "OrderLine", {"order[eq]": str(uuid.UUID(int=1))})
    assert query.sort == (SortKey("id"),)
    assert query.limit == 50
    assert not query.count
    assert query.filters == (Filter("order", "eq", uuid.UUID(int=1)),)


@pytest.mark.parametrize(("params", "error"), [
    ([("colour", "red")], {"field": "colour", "message": "unknown field 'colour'"}),
    ([("statsu", "new")], {"field": "statsu",
                           "message": "unknown field 'statsu' (did you mean 'status'?)"}),
    ([("total[gt e]", "1")], {"field": "total[gt e]",
                              "message": "expected field or field[operator]"}),
    ([("total[gtee]", "1")], {"field": "total[gtee]", "message": "unknown operator 'gtee' (did"
                              " you mean 'gte'?); use one of eq, ne, gt, gte, lt, lte, in, like,"
                              " ilike, is_null"}),
    ([("express[gt]", "true")], {"field": "express[gt]",
                                 "message": "operator 'gt' does not apply to boolean fields"}),
    ([("meta", "{}")], {"field": "meta", "message": "operator 'eq' does not apply to json fields"}),
    ([("total", "ten")], {"field": "total",
                          "message": "expected a number, found 'ten' (a string)"}),
    ([("priority[in]", "1,x")], {"field": "priority[in]",
                                 "message": "expected an integer, found 'x' (a string)"}),
    ([("reason[is_null]", "yes")], {"field": "reason[is_null]",
                                    "message": "expected true or false, found 'yes'"}),
    ([("status", "a"), ("status", "b")], {"field": "status", "message": "is given twice"}),
    ([("limit", "0")], {"field": "limit",
                        "message": "expected an integer from 1 to 500, found '0'"}),
    ([("limit", "501")], {"field": "limit",
                          "message": "expected an integer from 1 to 500, found '501'"}),
    ([("count", "maybe")], {"field": "count", "message": "expected true or false, found 'maybe'"}),
    ([("sort", "colour")], {"field": "sort", "message": "unknown field 'colour'"}),
    ([("sort", "meta")], {"field": "sort", "message": "cannot sort by json field 'meta'"}),
    ([("cursor", "!!not-base64!!")], {"field": "cursor",
                                      "message": "is not a cursor returned by this API"}),
    ([("cursor", base64.urlsafe_b64encode(b'{"s":"id","v":[12]}').decode())],
     {"field": "cursor", "message": "is not a cursor returned by this API"}),
    ([("cursor", base64.urlsafe_b64encode(b'{"s":"id","v":["x"]}').decode())],
     {"field": "cursor", "message": "expected a UUID, found 'x' (a string)"}),
    ([("cursor", encode_cursor((SortKey("id"),), [uuid.UUID(int=1)])), ("sort", "-total")],
     {"field": "cursor",
      "message": "was made for another sort order; repeat the sort of the first page"}),
])
def test_bad_parameters(params: list[tuple[str, str]], error: dict[str, str]) -> None:
    assert _errors(params) == [error]


def test_all_errors_at_once() -> None:
    assert len(_errors([("colour", "red"), ("limit", "x"), ("total[lt]", "y")])) == 3


def test_cursor_round_trip() -> None:
    sort = (SortKey("total", True), SortKey("id", True))
    cursor = encode_cursor(sort, [Decimal("12.50"), uuid.UUID(int=7)])
    query = parse_list_query(SERVICE, "Order", {"sort": "-total", "cursor": cursor})
    assert query.after == (Decimal("12.50"), uuid.UUID(int=7))


@pytest.mark.parametrize("sort", ["id", "-total", "priority,-note", "-priority,paid_at"])
@pytest.mark.parametrize("nulls", [False, True])
def test_cached_list_statements_match_a_fresh_build(sort: str, nulls: bool) -> None:
    """The per-shape SQL cache computes the same text and parameters as building anew."""
    from lcdev.runtime.data import entity_model
    from lcdev.runtime.data.listsql import ListStatements, build_list_sql

    model = entity_model(SERVICE, "Order")
    statements = ListStatements(model, "*")
    base = parse_list_query(SERVICE, "Order", [
        ("status[in]", "new,paid"), ("reason[is_null]", "false"), ("total[gt]", "1"),
        ("sort", sort), ("count", "true")])
    values = {"id": uuid.UUID(int=5), "total": Decimal("2.50"), "priority": 3,
              "note": "n", "paid_at": None}
    after = tuple(None if nulls and k.field != "id" else values[k.field] for k in base.sort)
    for query in (base, type(base)(base.filters, base.sort, 7, after, True)):
        cached, fresh = statements(query), build_list_sql(model, "*", query)
        assert (cached.rows, cached.row_params) == (fresh.rows, fresh.row_params)
        assert (cached.count, cached.count_params) == (fresh.count, fresh.count_params)
        again = statements(query)
        assert again.rows is cached.rows
