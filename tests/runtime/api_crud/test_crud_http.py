"""The generated REST API over HTTP (starlette TestClient, real PostgreSQL): status codes,
headers, problem+json bodies, transactions with the change hook, children inline."""

from __future__ import annotations

import uuid
from typing import Any

from tests.runtime.api_crud.conftest import CrudApp

CUSTOMER = "6f1c1f5e-3a4b-4c8d-9e0f-1a2b3c4d5e6f"
PROBLEM = "application/problem+json"


def _order(**extra: Any) -> dict[str, Any]:
    return {"customer_id": CUSTOMER, "total": "12.50", **extra}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_create_get_list_with_children(app: CrudApp) -> None:
    base = app.base("Order")
    created = app.client.post(base, json=_order(
        total=12.5, lines=[{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]))
    assert created.status_code == 201, created.text
    row = created.json()
    assert created.headers["location"] == f"{base}/{row['id']}"
    assert row["total"] == "12.50"
    assert row["status"] == "new"
    assert row["express"] is False
    assert [(line["sku"], line["order"]) for line in row["lines"]] == [
        ("A", row["id"]), ("B", row["id"])]
    assert app.client.get(f"{base}/{row['id']}").json() == row
    listed = app.client.get(base, params={"id": row["id"]}).json()
    assert listed == {"items": [row], "next_cursor": None, "total": None}
    lines = app.client.get(app.base("OrderLine"), params={"order[eq]": row["id"]}).json()
    assert [line["sku"] for line in lines["items"]] == ["A", "B"]
    assert [(e, kind) for e, kind, _ in app.hook.calls] == [
        ("Order", "created"), ("OrderLine", "created"), ("OrderLine", "created")]
    assert app.hook.calls[0][2]["lines"][0]["sku"] == "A"


def test_patch_put_delete(app: CrudApp) -> None:
    base = app.base("Order")
    row = app.client.post(base, json=_order(reason="late", priority=2)).json()
    patched = app.client.patch(f"{base}/{row['id']}", json={"status": "paid"})
    assert patched.status_code == 200
    assert patched.json()["status"] == "paid"
    assert patched.json()["reason"] == "late"
    put = app.client.put(f"{base}/{row['id']}", json=_order(total="3"))
    assert put.status_code == 200
    replaced = put.json()
    assert (replaced["reason"], replaced["status"], replaced["total"]) == (None, "new", "3.00")
    assert app.client.delete(f"{base}/{row['id']}").status_code == 204
    assert app.client.get(f"{base}/{row['id']}").status_code == 404
    kinds = [kind for _, kind, _ in app.hook.calls]
    assert kinds == ["created", "updated", "updated", "deleted"]


def test_not_found_and_malformed_ids(app: CrudApp) -> None:
    base = app.base("Order")
    missing = str(uuid.uuid4())
    assert _problem(app.client.get(f"{base}/{missing}"), 404)["detail"] == (
        f"no Order with id {missing}")
    assert _problem(app.client.get(f"{base}/not-a-uuid"), 404)["detail"] == (
        "no Order with id 'not-a-uuid' (not a UUID)")
    _problem(app.client.patch(f"{base}/{missing}", json={"reason": "x"}), 404)
    _problem(app.client.put(f"{base}/{missing}", json=_order()), 404)
    _problem(app.client.delete(f"{base}/{missing}"), 404)
    assert app.client.post(app.base("OrderLine"), json={}).status_code == 405


def test_bad_bodies(app: CrudApp) -> None:
    base = app.base("Order")
    before = app.fetchval('SELECT count(*) FROM {s}."order"')
    assert "not valid JSON" in _problem(
        app.client.post(base, content=b"{nope", headers={"content-type": "application/json"}),
        400)["detail"]
    assert _problem(app.client.post(base, content=b""), 400)["detail"] == (
        "the request body is empty; send a JSON object")
    body = _problem(app.client.post(base, json={"total": "x", "lines": [{"sku": "A"}],
                                                "colour": 1}), 422)
    assert body["errors"] == [
        {"field": "colour", "message": "unknown field"},
        {"field": "customer_id", "message": "is required"},
        {"field": "total", "message": "expected a number, found 'x' (a string)"},
        {"field": "lines[0].quantity", "message": "is required"},
    ]
    assert app.fetchval('SELECT count(*) FROM {s}."order"') == before


def test_database_rules_become_problems(app: CrudApp) -> None:
    base, notes = app.base("Order"), app.base("Note")
    code = uuid.uuid4().hex[:20]
    first = app.client.post(base, json=_order(code=code)).json()
    conflict = _problem(app.client.post(base, json=_order(code=code)), 409)
    assert conflict["errors"] == [{"field": "code", "message": "is already taken"}]
    missing = _problem(app.client.post(notes, json={"order": str(uuid.uuid4()), "body": "x"}), 422)
    assert missing["errors"] == [{"field": "order",
                                  "message": "refers to a row that does not exist"}]
    assert app.client.post(notes, json={"order": first["id"], "body": "x"}).status_code == 201
    restricted = _problem(app.client.delete(f"{base}/{first['id']}"), 409)
    assert "still referenced by note rows" in restricted["detail"]
    assert app.client.get(f"{base}/{first['id']}").status_code == 200


def test_failing_change_hook_writes_nothing(app: CrudApp) -> None:
    base = app.base("Order")
    orders = app.fetchval('SELECT count(*) FROM {s}."order"')
    lines = app.fetchval("SELECT count(*) FROM {s}.order_line")
    outbox = app.fetchval("SELECT count(*) FROM {s}.lcdev_outbox")
    app.hook.fail_on = "created"
    response = app.client.post(base, json=_order(lines=[{"sku": "A", "quantity": 1}]))
    assert response.status_code == 500
    assert app.fetchval('SELECT count(*) FROM {s}."order"') == orders
    assert app.fetchval("SELECT count(*) FROM {s}.order_line") == lines
    assert app.fetchval("SELECT count(*) FROM {s}.lcdev_outbox") == outbox
    app.hook.fail_on = None
    row = app.client.post(base, json=_order()).json()
    app.hook.fail_on = "updated"
    assert app.client.patch(f"{base}/{row['id']}", json={"reason": "x"}).status_code == 500
    assert app.client.get(f"{base}/{row['id']}").json()["reason"] is None
    app.hook.fail_on = "deleted"
    assert app.client.delete(f"{base}/{row['id']}").status_code == 500
    assert app.client.get(f"{base}/{row['id']}").status_code == 200


def test_list_pages_over_http(app: CrudApp) -> None:
    base = app.base("Order")
    customer = str(uuid.uuid4())
    made = [app.client.post(base, json=_order(customer_id=customer, priority=1 + i % 2)).json()
            for i in range(5)]
    params = {"customer_id": customer, "sort": "-priority", "limit": "2", "count": "true"}
    first = app.client.get(base, params=params).json()
    assert first["total"] == 5
    assert len(first["items"]) == 2
    seen = [r["id"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = app.client.get(base, params={**params, "cursor": cursor}).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
    expected = sorted(made, key=lambda r: (r["priority"], r["id"]), reverse=True)
    assert seen == [r["id"] for r in expected]
    bad = _problem(app.client.get(base, params={"limit": "1000", "sort": "colour"}), 400)
    assert [e["field"] for e in bad["errors"]] == ["sort", "limit"]
    assert _problem(app.client.get(base, params={"cursor": "xyz"}), 400)["errors"] == [
        {"field": "cursor", "message": "is not a cursor returned by this API"}]


def test_sql_looking_input_is_only_ever_data(app: CrudApp) -> None:
    base = app.base("Order")
    nasty = "x' OR '1'='1'; DROP TABLE \"order\"; --"
    row = app.client.post(base, json=_order(reason=nasty)).json()
    found = app.client.get(base, params={"reason": nasty}).json()["items"]
    assert [r["id"] for r in found] == [row["id"]]
    assert app.client.get(base, params={"reason": "x' OR '1'='1"}).json()["items"] == []
    bad = _problem(app.client.get(base, params={'reason"; DROP TABLE x; --': "1"}), 400)
    assert bad["errors"][0]["message"] == "expected field or field[operator]"
    assert _problem(app.client.get(base, params={"sort": "id; DROP TABLE x"}), 400)["errors"] == [
        {"field": "sort", "message": "unknown field 'id; DROP TABLE x'"}]
    assert app.client.get(f"{base}/{row['id']}").json()["reason"] == nasty


def test_values_postgres_would_refuse_are_problems_not_errors(app: CrudApp) -> None:
    base = app.base("Order")
    assert app.client.post(base, json=_order(note="abc")).status_code == 201
    assert "LIKE pattern" in _problem(app.client.get(base, params={"note[like]": "a\\"}),
                                      400)["detail"]
    late = _problem(app.client.post(base, json=_order(paid_at="9999-12-31T23:00:00-05:00")), 422)
    assert late["errors"] == [{"field": "paid_at",
                               "message": "is out of range (years 1 to 9999 in UTC)"}]
    huge = _problem(app.client.get(base, params={"total[gt]": "1e100000"}), 400)
    assert huge["errors"] == [{"field": "total[gt]", "message": "is out of range"}]
