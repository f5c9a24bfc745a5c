"""``lcdev.core.changes``: what changed between two versions of the definitions, in words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lcdev.core.changes import (
    WorkspaceChanges,
    changed_events,
    diff_service,
    diff_workspace,
)
from lcdev.core.reload_order import consumers_of, reload_waves
from lcdev.definitions import ServiceDefinition, WorkspaceDefinition, load_workspace

ORDERS = """\
name: orders
version: 1.0.0
entities:
  Order:
    fields:
      customer_id: uuid!
      status: enum(new, paid, cancelled)! = new
      total: {type: decimal, precision: 12, scale: 2}
      reason: text
    indexes:
      - [customer_id, status]
  OrderLine:
    fields:
      order: {type: ref, entity: Order, required: true}
      sku: string(40)!
    crud: [list, get]
endpoints:
  cancel:
    method: POST
    path: /orders/{id}/cancel
    entity: Order
    guard: status in [new]
    set: {status: cancelled}
    publish: OrderCancelled
publishes:
  OrderPlaced:
    entity: Order
    when: created
    key: order_id
    map: {order_id: id}
    payload:
      order_id: uuid!
      customer_id: uuid!
  OrderCancelled:
    entity: Order
  OrderChanged:
    description: Any change of an order; its payload is the whole row.
    entity: Order
    when: updated
consumes:
  - event: PaymentProcessed
    from: payments
    action: update
    entity: Order
    match: {id: order_id}
    map: {total: amount}
    set: {status: paid}
gateway:
  auth: {type: jwt, secret: jwt_dev_key}
  rate_limit: {requests: 100, per: 1s, burst: 20}
settings:
  max_lines: 100
"""

PROCESS = """\
name: search
version: 1.0.0
kind: process
process:
  command: python -m search --port $PORT
  health: /search/health
  env: {API_TOKEN: "${secrets.search_token}"}
"""


def _yaml(text: str) -> dict[str, object]:
    data = YAML(typ="safe").load(textwrap.dedent(text))
    assert isinstance(data, dict)
    return data


def _service(text: str) -> ServiceDefinition:
    return ServiceDefinition.model_validate(_yaml(text))


def _edited(text: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def _diff(*edits: tuple[str, str], base: str = ORDERS) -> list[str]:
    return diff_service(_service(base), _service(_edited(base, *edits))).words


# --- fields, tables, routes ---------------------------------------------------------------


def test_unchanged_service_has_no_words() -> None:
    changes = diff_service(_service(ORDERS), _service(ORDERS))
    assert not changes.changed
    assert changes.words == []
    assert not changes.gateway_affected
    assert not changes.process_affected


def test_field_added_removed_and_type_changed() -> None:
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS,
        ("      reason: text\n", "      note: string(200)\n"),
        ("total: {type: decimal, precision: 12, scale: 2}", "total: integer"),
    )))
    assert changes.fields == (
        "+ field Order.note", "- field Order.reason", "~ field Order.total (decimal → integer)",
    )
    # The event whose payload is the whole row changed with it; the others did not.
    assert changes.events == (
        "~ publishes OrderCancelled (payload: + note, - reason, ~ total)",
        "~ publishes OrderChanged (payload: + note, - reason, ~ total)",
    )
    assert changes.routes == changes.tables == changes.gateway == changes.other == ()


def test_field_constraints_say_what_changed() -> None:
    assert _diff(
        ("enum(new, paid, cancelled)! = new", "enum(new, paid, cancelled, refunded)! = new"),
        ("sku: string(40)!", "sku: string(60)"),
    )[:2] == [
        "~ field Order.status (values: + refunded)",
        "~ field OrderLine.sku (max_length 40 → 60; required true → false)",
    ]


def test_timestamps_off_removes_the_implicit_columns() -> None:
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS, ("  OrderLine:\n", "  OrderLine:\n    timestamps: false\n"))))
    assert changes.fields == ("- field OrderLine.created_at", "- field OrderLine.updated_at")
    assert changes.tables == ()


def test_new_and_removed_entities_are_tables_with_their_routes() -> None:
    refund = "  Refund:\n    fields:\n      amount: decimal!\n    crud: [list, create]\n"
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS, ("  OrderLine:\n", refund + "  OrderLine:\n"))))
    assert changes.tables == ("+ entity Refund",)
    assert changes.routes == ("+ GET /orders/refunds", "+ POST /orders/refunds")
    assert changes.fields == ()
    back = diff_service(_service(_edited(ORDERS, ("  OrderLine:\n", refund + "  OrderLine:\n"))),
                        _service(ORDERS))
    assert back.tables == ("- entity Refund",)
    assert back.routes == ("- GET /orders/refunds", "- POST /orders/refunds")


def test_indexes_are_a_table_change() -> None:
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS, ("      - [customer_id, status]\n",
                 "      - {fields: [customer_id], unique: true}\n"))))
    assert changes.tables == (
        "~ entity Order (indexes: + (customer_id) unique, - (customer_id, status))",
    )


def test_crud_option_change_changes_routes() -> None:
    assert _diff(("crud: [list, get]", "crud: [list, get, update]")) == [
        "+ PUT /orders/order-lines/{id}", "+ PATCH /orders/order-lines/{id}",
    ]
    assert _diff(("crud: [list, get]", "crud: none")) == [
        "- GET /orders/order-lines", "- GET /orders/order-lines/{id}",
    ]


def test_entity_path_moves_its_routes() -> None:
    assert _diff(("crud: [list, get]", "crud: [list]\n    path: /lines")) == [
        "+ GET /orders/lines", "- GET /orders/order-lines", "- GET /orders/order-lines/{id}",
    ]


def test_endpoint_added_is_a_route_and_a_changed_one_says_how() -> None:
    refund = ("  refund:\n    method: POST\n    path: /orders/{id}/refund\n    entity: Order\n"
              "    set: {status: new}\n")
    assert _diff(("endpoints:\n", "endpoints:\n" + refund)) == [
        "+ POST /orders/orders/{id}/refund"]
    assert _diff(("guard: status in [new]", "guard: status in [new, paid]")) == [
        "~ endpoint cancel (guard status in [new] → status in [new, paid])"]
    assert _diff(("  cancel:\n", "  cancel_order:\n")) == [
        "~ endpoint cancel renamed to cancel_order"]


def test_route_prefix_change_is_one_gateway_line_not_every_route() -> None:
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS, ("version: 1.0.0\n", "version: 1.0.0\nroute: /shop\n"))))
    assert changes.routes == ()
    assert changes.gateway == ("~ route /orders → /shop",)
    assert changes.gateway_affected
    assert not changes.process_affected


# --- events and subscriptions -------------------------------------------------------------


def test_publish_payload_change() -> None:
    old = _service(ORDERS)
    new = _service(_edited(ORDERS, ("      order_id: uuid!\n", "      order_id: uuid!\n"
                                                               "      note: text\n")))
    changes = diff_service(old, new)
    assert changes.events == ("~ publishes OrderPlaced (payload: + note)",)
    assert changes.words == list(changes.events)
    assert changed_events(old, new) == {"OrderPlaced"}


def test_published_event_added_and_removed() -> None:
    shipped = "  OrderShipped:\n    entity: Order\n    when: updated\n"
    old = _service(ORDERS)
    new = _service(_edited(ORDERS, ("publishes:\n", "publishes:\n" + shipped),
                           ("  OrderCancelled:\n    entity: Order\n", "")))
    assert diff_service(old, new).events == (
        "- publishes OrderCancelled", "+ publishes OrderShipped")
    assert changed_events(old, new) == {"OrderCancelled", "OrderShipped"}
    assert changed_events(None, old) == {"OrderPlaced", "OrderCancelled", "OrderChanged"}


def test_event_description_is_shown_but_is_no_contract_change() -> None:
    old = _service(ORDERS)
    new = _service(_edited(ORDERS, ("Any change of an order", "Every change of an order")))
    assert diff_service(old, new).events == ("~ publishes OrderChanged (description)",)
    assert changed_events(old, new) == set()


def test_major_version_moves_every_topic() -> None:
    old = _service(ORDERS)
    new = _service(_edited(ORDERS, ("version: 1.0.0", "version: 2.0.0")))
    changes = diff_service(old, new)
    assert changes.other == ("~ version 1.0.0 → 2.0.0",)
    assert changes.events[0] == (
        "~ publishes OrderCancelled (topic orders.OrderCancelled.v1 → orders.OrderCancelled.v2)")
    assert changed_events(old, new) == {"OrderPlaced", "OrderCancelled", "OrderChanged"}


def test_version_bump_only() -> None:
    old = _service(ORDERS)
    new = _service(_edited(ORDERS, ("version: 1.0.0", "version: 1.1.0")))
    changes = diff_service(old, new)
    assert changes.words == ["~ version 1.0.0 → 1.1.0"]
    assert (changes.version_before, changes.version_after) == ("1.0.0", "1.1.0")
    assert changes.changed
    assert not changes.gateway_affected
    assert not changes.process_affected
    assert changed_events(old, new) == set()


def test_subscriptions_added_removed_and_changed() -> None:
    failed = ("  - event: PaymentFailed\n    from: payments\n    action: update\n"
              "    entity: Order\n    match: {id: order_id}\n    set: {status: cancelled}\n")
    assert _diff(("gateway:\n", failed + "gateway:\n")) == [
        "+ consumes PaymentFailed from payments"]
    assert _diff(("map: {total: amount}", "map: {total: amount, reason: note}")) == [
        "~ consumes PaymentProcessed from payments (map: + reason)"]
    assert _diff(("    from: payments\n", "")) == [
        "+ consumes PaymentProcessed", "- consumes PaymentProcessed from payments"]


# --- gateway, process and the rest --------------------------------------------------------


def test_gateway_policy_changes() -> None:
    changes = diff_service(_service(ORDERS), _service(_edited(
        ORDERS,
        ("auth: {type: jwt, secret: jwt_dev_key}", "auth: none"),
        ("{requests: 100, per: 1s, burst: 20}", "{requests: 10, per: 1m}"),
        ("gateway:\n", "gateway:\n  cors: {origins: ['*']}\n  routes:\n"
                       "    - {path: /orders/orders, auth: none}\n"),
    )))
    assert changes.gateway == (
        "~ gateway auth (jwt (jwt_dev_key) → none)",
        "~ gateway cors (added)",
        "~ gateway rate limit (100/1s burst 20 → 10/1m)",
        "~ gateway route policies (/orders/orders (new))",
    )
    assert changes.gateway_affected
    assert changes.words == list(changes.gateway)


def test_settings_and_descriptions_are_other_changes() -> None:
    assert _diff(("max_lines: 100", "max_lines: 200\n  currency: EUR"),
                 ("version: 1.0.0\n", "version: 1.0.0\nowner: shop-team\n")) == [
        "~ owner none → shop-team",
        "+ setting currency",
        "~ setting max_lines (default 100 → 200)",
    ]


def test_new_and_removed_service() -> None:
    svc = _service(ORDERS)
    added = diff_service(None, svc)
    assert (added.version_before, added.version_after) == ("", "1.0.0")
    assert added.gateway == ("+ route /orders",)
    assert "+ POST /orders/orders/{id}/cancel" in added.routes
    assert added.tables == ("+ entity Order", "+ entity OrderLine")
    assert added.subscriptions == ("+ consumes PaymentProcessed from payments",)
    assert added.gateway_affected
    assert added.changed
    removed = diff_service(svc, None)
    assert (removed.name, removed.version_after) == ("orders", "")
    assert removed.words == [w.replace("+", "-", 1) for w in added.words]
    assert removed.gateway_affected
    with pytest.raises(ValueError, match="at least one"):
        diff_service(None, None)


def test_process_command_change_restarts_and_env_values_stay_hidden() -> None:
    changes = diff_service(_service(PROCESS), _service(_edited(
        PROCESS,
        ("--port $PORT", "--port $PORT --verbose"),
        ('"${secrets.search_token}"', '"${secrets.other_token}"'),
    )))
    assert changes.other == ("~ process command: + --verbose", "~ process env: API_TOKEN")
    assert changes.process_affected
    assert not changes.gateway_affected
    assert not any("secrets." in word for word in changes.words)


def test_process_health_path_is_a_gateway_change() -> None:
    changes = diff_service(_service(PROCESS), _service(_edited(
        PROCESS, ("health: /search/health", "health: /search/ready"))))
    assert changes.gateway == ("~ gateway health path /search/health → /search/ready",)
    assert changes.other == ("~ process health /search/health → /search/ready",)
    assert changes.gateway_affected
    assert changes.process_affected


def test_kind_change_restarts_and_rewrites_the_gateway() -> None:
    lowcode = "name: search\nversion: 1.0.0\n"
    changes = diff_service(_service(lowcode), _service(PROCESS))
    assert changes.other == ("~ kind lowcode → process", "+ process")
    assert changes.gateway == ("~ gateway public paths (lowcode → process)",)
    assert changes.process_affected
    assert changes.gateway_affected


# --- lcdev.yaml ---------------------------------------------------------------------------

WORKSPACE = """\
name: shop
services: ["services/*"]
ports: {postgres: 15432}
secrets:
  jwt_dev_key: {env: SHOP_JWT_KEY, default: dev-only}
telemetry:
  forward_headers: {Authorization: Bearer hunter2}
"""


def _workspace_diff(*edits: tuple[str, str]) -> WorkspaceChanges:
    old = WorkspaceDefinition.model_validate(_yaml(WORKSPACE))
    return diff_workspace(old, WorkspaceDefinition.model_validate(
        _yaml(_edited(WORKSPACE, *edits))))


def test_workspace_unchanged() -> None:
    changes = _workspace_diff()
    assert not changes.changed
    assert (changes.applied, changes.needs_up) == ((), ())


def test_workspace_ports_need_up() -> None:
    changes = _workspace_diff(("{postgres: 15432}", "{postgres: 15433, kafka: 19092}"))
    assert changes.needs_up == (
        "ports.kafka default → 19092 needs `lcdev up` again",
        "ports.postgres 15432 → 15433 needs `lcdev up` again",
    )
    assert changes.applied == ()
    assert changes.changed
    assert not changes.services_changed
    assert not changes.secrets_changed


def test_workspace_secrets_apply_live() -> None:
    changes = _workspace_diff(("default: dev-only}", "default: dev-only-2}\n"
                               "  stripe_key: {file: stripe.key}"))
    assert changes.applied == ("secrets: jwt_dev_key, stripe_key (new)",)
    assert changes.secrets_changed
    assert not changes.services_changed
    assert changes.needs_up == ()


def test_workspace_service_globs_apply_live() -> None:
    changes = _workspace_diff(('["services/*"]', '["services/*", "apps/*"]'))
    assert changes.applied == ("services globs [services/*] → [services/*, apps/*]",)
    assert changes.services_changed
    assert not changes.secrets_changed


def test_workspace_settings_fixed_at_start_need_up_without_showing_header_values() -> None:
    changes = _workspace_diff(
        ("name: shop", "name: shop2\nstack: big\ngateway: {port: 8801}\ndescription: A shop"),
        ("Bearer hunter2", "Bearer swordfish"),
    )
    assert changes.applied == ("description",)
    assert changes.needs_up == (
        "gateway.port 8800 → 8801 needs `lcdev up` again",
        "name shop → shop2 needs `lcdev up` again",
        "stack default → big needs `lcdev up` again",
        "telemetry.forward_headers changed, needs `lcdev up` again",
    )
    assert not any("swordfish" in line or "hunter2" in line for line in changes.needs_up)


# --- who consumes what, and in which order to reload --------------------------------------


def _services(**texts: str) -> dict[str, ServiceDefinition]:
    return {name: _service(f"name: {name}\n" + textwrap.dedent(text))
            for name, text in texts.items()}


def _publishes(*events: str) -> str:
    return "publishes:\n" + "".join(
        f"  {e}: {{payload: {{id: uuid}}}}\n" for e in events)


def _consumes(*entries: tuple[str, str | None]) -> str:
    lines = ["consumes:"]
    for event, source in entries:
        lines.append(f"  - {{event: {event}, action: call, endpoint: on_{event.lower()}"
                     + (f", from: {source}" if source else "") + "}")
    endpoints = "".join(f"  on_{e.lower()}: {{method: POST, path: /{e.lower()}, handler: h:f}}\n"
                        for e, _ in entries)
    return "\n".join(lines) + "\nendpoints:\n" + endpoints


def test_consumers_of_follows_from_or_the_single_publisher() -> None:
    services = _services(
        a=_publishes("Placed", "Shipped"),
        b=_consumes(("Placed", "a")),
        c=_consumes(("Shipped", None)),
        d=_consumes(("Placed", "z")),
        e=_consumes(("Gone", None)),
    )
    assert consumers_of(services, "a", ["Placed"]) == {"b"}
    assert consumers_of(services, "a", ["Shipped", "Placed"]) == {"b", "c"}
    # An event a no longer publishes still finds the consumers naming no other publisher.
    assert consumers_of(services, "a", ["Gone"]) == {"e"}
    assert consumers_of(services, "a", []) == set()


def test_consumers_of_ignores_an_event_of_the_same_name_from_another_service() -> None:
    services = _services(
        a=_publishes("Placed"), other=_publishes("Placed"), c=_consumes(("Placed", None)),
    )
    assert consumers_of(services, "a", ["Placed"]) == set()


def test_reload_waves_put_producers_first() -> None:
    services = _services(
        a=_publishes("A1"),
        b=_publishes("B1") + _consumes(("A1", "a")),
        c=_consumes(("B1", None)),
        d="",
    )
    assert reload_waves(services, ["c", "b", "a", "d"]) == [["a", "d"], ["b"], ["c"]]
    # Only the named services are ordered; an unnamed producer does not hold anyone back.
    assert reload_waves(services, ["c", "a"]) == [["a", "c"]]
    assert reload_waves(services, ["c", "gone", "c"]) == [["c", "gone"]]
    assert reload_waves(services, []) == []


def test_reload_waves_put_a_cycle_in_one_wave_after_its_producers() -> None:
    services = _services(
        src=_publishes("S"),
        x=_publishes("X") + _consumes(("Y", "y"), ("S", "src")),
        y=_publishes("Y") + _consumes(("X", "x")),
        z=_consumes(("X", "x")),
    )
    assert reload_waves(services, ["z", "y", "x", "src"]) == [["src"], ["x", "y"], ["z"]]


def test_reload_waves_of_the_shop(shop: Path) -> None:
    loaded = load_workspace(shop)
    assert loaded.ok, loaded.problems
    # orders, inventory and payments consume each other's events; notifications follows.
    assert reload_waves(loaded.services, sorted(loaded.services)) == [
        ["inventory", "orders", "payments"], ["notifications"]]
    assert consumers_of(loaded.services, "orders", ["OrderPlaced"]) == {"inventory"}
