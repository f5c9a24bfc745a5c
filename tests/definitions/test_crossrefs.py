"""Cross-reference checks: every name used must resolve, reported at the name's position."""

from __future__ import annotations

from pathlib import Path

from lcdev.definitions import load_workspace

from .conftest import Writer, edit

ORDERS = "services/orders/service.yaml"
PAYMENTS = "services/payments/service.yaml"
INVENTORY = "services/inventory/service.yaml"
NOTIFICATIONS = "services/notifications/service.yaml"


def problems(root: Path) -> list[str]:
    return [str(p) for p in load_workspace(root).problems]


def test_relation_to_unknown_entity(shop: Path) -> None:
    edit(shop / ORDERS, "entity: Order, on_delete", "entity: Ordr, on_delete")
    assert problems(shop) == [
        f"{ORDERS}:21:34: field 'order': unknown entity 'Ordr' (did you mean 'Order'?)"
    ]


def test_endpoint_guard_set_and_publish(shop: Path) -> None:
    edit(shop / ORDERS, "guard: status in [new]", "guard: state in [new]")
    edit(shop / ORDERS, "set: {status: cancelled}", "set: {status: canceled, note: x}")
    edit(shop / ORDERS, "publish: OrderCancelled", "publish: OrderCanceled")
    assert problems(shop) == [
        f"{ORDERS}:32:12: endpoint 'cancel': unknown field 'state' (did you mean 'status'?)",
        f"{ORDERS}:33:19: endpoint 'cancel': 'canceled' is not a value of field 'status'"
        " (new, paid, rejected, cancelled) (did you mean 'cancelled'?)",
        f"{ORDERS}:33:29: endpoint 'cancel': unknown field 'note'",
        f"{ORDERS}:34:14: endpoint 'cancel': unknown event 'OrderCanceled'"
        " (did you mean 'OrderCancelled'?)",
    ]


def test_guard_value_must_be_an_enum_value(shop: Path) -> None:
    edit(shop / ORDERS, "guard: status in [new]", "guard: status in [nwe]")
    assert problems(shop) == [
        f"{ORDERS}:32:12: endpoint 'cancel': 'nwe' is not a value of field 'status'"
        " (new, paid, rejected, cancelled) (did you mean 'new'?)"
    ]


def test_consumed_event_nobody_publishes(shop: Path) -> None:
    edit(shop / NOTIFICATIONS, "  - event: StockRejected\n    from: inventory\n",
         "  - event: StockRejectd\n")
    assert problems(shop) == [
        f"{NOTIFICATIONS}:32:12: consumer of 'StockRejectd': no service in the workspace"
        " publishes 'StockRejectd' (did you mean 'StockRejected'?)"
    ]


def test_consumed_event_not_published_by_named_service(shop: Path) -> None:
    edit(shop / NOTIFICATIONS, "  - event: StockRejected\n    from: inventory\n",
         "  - event: StockRejected\n    from: payments\n")
    assert problems(shop) == [
        f"{NOTIFICATIONS}:32:12: consumer of 'StockRejected': service 'payments' does not"
        " publish 'StockRejected'"
    ]


def test_consumed_event_from_external_service_is_a_warning(shop: Path) -> None:
    edit(shop / NOTIFICATIONS, "  - event: StockRejected\n    from: inventory\n",
         "  - event: StockRejected\n    from: warehouse\n")
    loaded = load_workspace(shop)
    assert [str(p) for p in loaded.problems] == [
        f"{NOTIFICATIONS}:33:11: warning: consumer of 'StockRejected': service 'warehouse' is"
        " not in this workspace; the event contract is not checked"
    ]
    assert loaded.ok
    assert "notifications" in loaded.services


def test_ambiguous_publisher_needs_from(shop: Path, write: Writer) -> None:
    write("services/returns/service.yaml", """\
        name: returns
        publishes:
          StockRejected:
            payload: {order_id: uuid!, reason: text}
        """)
    edit(shop / NOTIFICATIONS, "  - event: StockRejected\n    from: inventory\n",
         "  - event: StockRejected\n")
    assert problems(shop) == [
        f"{NOTIFICATIONS}:32:12: consumer of 'StockRejected': 'StockRejected' is published by"
        " inventory and returns; say which with 'from'"
    ]


def test_consumer_entity_fields_and_payload_fields(shop: Path) -> None:
    text = (shop / PAYMENTS).read_text()
    text = text.replace("amount: total}\n    set: {status: processed}",
                        "amount: totl}\n    set: {status: processed}")
    text = text.replace("settings.approval_limit\n    action: insert\n    entity: Payment\n"
                        "    map: {order_id: order_id, amount: total}\n    set: {status: failed",
                        "settings.approval_limt\n    action: insert\n    entity: Paymnt\n"
                        "    map: {order_id: order_id, amount: total}\n    set: {status: failed")
    (shop / PAYMENTS).write_text(text)
    edit(shop / NOTIFICATIONS, "map: {order_id: order_id}\n    set: {kind: payment_failed",
         "map: {order: order_id}\n    set: {kind: payment_faild")
    assert problems(shop) == [
        f"{NOTIFICATIONS}:30:11: consumer of 'PaymentFailed': unknown field 'order'"
        " (did you mean 'order_id'?)",
        f"{NOTIFICATIONS}:31:17: consumer of 'PaymentFailed': 'payment_faild' is not a value"
        " of field 'kind' (payment_processed, payment_failed, stock_rejected)"
        " (did you mean 'payment_failed'?)",
        f"{PAYMENTS}:50:39: consumer of 'StockReserved': event StockReserved has no field"
        " 'totl' (did you mean 'total'?)",
        f"{PAYMENTS}:54:9: consumer of 'StockReserved': unknown setting 'approval_limt'"
        " (did you mean 'approval_limit'?)",
        f"{PAYMENTS}:56:13: consumer of 'StockReserved': unknown entity 'Paymnt'"
        " (did you mean 'Payment'?)",
    ]


def test_consumer_calls_unknown_endpoint(shop: Path) -> None:
    edit(shop / INVENTORY, "endpoint: reserve\n", "endpoint: reserv\n")
    assert problems(shop) == [
        f"{INVENTORY}:63:15: consumer of 'OrderPlaced': unknown endpoint 'reserv'"
        " (did you mean 'reserve'?)"
    ]


def test_published_event_mapping(shop: Path) -> None:
    edit(shop / ORDERS, "    key: order_id\n    map: {order_id: id}\n    payload:\n"
         "      order_id: uuid!\n      customer_id",
         "    key: order\n    map: {order_id: ident}\n    payload:\n"
         "      order_id: uuid!\n      buyer: uuid\n      customer_id")
    assert problems(shop) == [
        f"{ORDERS}:41:10: event 'OrderPlaced': unknown payload field 'order'"
        " (did you mean 'order_id'?)",
        f"{ORDERS}:42:21: event 'OrderPlaced': unknown entity field 'ident'",
        f"{ORDERS}:45:14: event 'OrderPlaced': payload field 'buyer' is not a field of Order;"
        " add it to 'map' to say where it comes from",
    ]


def test_undefined_workspace_secret(shop: Path) -> None:
    edit(shop / ORDERS, "secret: jwt_dev_key", "secret: jwt_key")
    assert problems(shop) == [
        f"{ORDERS}:80:29: secret 'jwt_key' is not defined in the secrets of lcdev.yaml"
        " (did you mean 'jwt_dev_key'?)"
    ]


WORKFLOW = """\
name: fulfilment
route: /fulfilment
endpoints:
  release:
    method: POST
    path: /fulfilment/release
    handler: handlers:release
publishes:
  OrderConfirmed:
    payload: {order_id: uuid!}
workflows:
  fulfil_order:
    trigger: OrderPlaced
    key: order_id
    timeout: 2m
    steps:
      - name: reserve
        call: inventory.reserve
        retry: {attempts: 3, backoff: exponential, initial: 100ms, max: 5s, jitter: true}
        timeout: 5s
        compensate: fulfilment.release
      - name: wait_payment
        await: {event: PaymentProcessed, correlate: order_id, timeout: 30s}
      - name: confirm
        publish: OrderConfirmed
"""


def test_valid_workflow(shop: Path, write: Writer) -> None:
    write("services/fulfilment/service.yaml", WORKFLOW)
    loaded = load_workspace(shop)
    assert loaded.problems == []
    flow = loaded.services["fulfilment"].workflows["fulfil_order"]
    retry = flow.steps[0].retry
    assert retry is not None
    assert (retry.attempts, retry.initial.total_seconds(), retry.max.total_seconds()) == (
        3, 0.1, 5.0)
    assert flow.steps[1].await_ is not None
    assert flow.steps[1].await_.timeout.total_seconds() == 30


def test_workflow_references(shop: Path, write: Writer) -> None:
    text = (WORKFLOW.replace("trigger: OrderPlaced", "trigger: OrderPlacd")
            .replace("call: inventory.reserve", "call: inventry.reserve")
            .replace("compensate: fulfilment.release", "compensate: fulfilment.relase")
            .replace("correlate: order_id", "correlate: order")
            .replace("publish: OrderConfirmed\n", "publish: OrderConfirm\n"))
    write("services/fulfilment/service.yaml", text)
    assert problems(shop) == [
        "services/fulfilment/service.yaml:13:14: workflow 'fulfil_order': no service in the"
        " workspace publishes 'OrderPlacd' (did you mean 'OrderPlaced'?)",
        "services/fulfilment/service.yaml:18:15: step 'reserve': unknown service 'inventry'"
        " (did you mean 'inventory'?)",
        "services/fulfilment/service.yaml:21:21: step 'reserve': service fulfilment has no"
        " endpoint 'relase' (did you mean 'release'?)",
        "services/fulfilment/service.yaml:23:53: step 'wait_payment': event PaymentProcessed"
        " has no field 'order' (did you mean 'order_id'?)",
        "services/fulfilment/service.yaml:25:18: step 'confirm': unknown event 'OrderConfirm'"
        " (did you mean 'OrderConfirmed'?)",
    ]


def test_workflow_step_shape(shop: Path, write: Writer) -> None:
    text = (WORKFLOW.replace("        compensate: fulfilment.release\n",
                             "        publish: OrderConfirmed\n")
            .replace("timeout: 2m", "timeout: 2 minutes"))
    write("services/fulfilment/service.yaml", text)
    assert problems(shop) == [
        "services/fulfilment/service.yaml:15:14: workflow 'fulfil_order': expected a duration"
        " like '100ms', '5s', '2m' or '1h', found '2 minutes' (a string)",
        "services/fulfilment/service.yaml:17:9: step 'reserve': a step needs exactly one of"
        " call, publish or await (found call, publish)",
    ]
    write("services/fulfilment/service.yaml",
          WORKFLOW.replace("initial: 100ms, max: 5s", "initial: 10s, max: 5s"))
    assert problems(shop) == [
        "services/fulfilment/service.yaml:19:61: step 'reserve': 'initial' delay is longer"
        " than 'max'",
    ]


def test_policy_and_endpoint_shapes(write: Writer, tmp_path: Path) -> None:
    write("lcdev.yaml", "name: shop\n")
    write("services/orders/service.yaml", """\
        name: orders
        entities:
          Order:
            fields:
              status: enum(new, done)
        endpoints:
          finish:
            method: post
            path: /orders/finish
            entity: Order
            set: {status: done}
          noop:
            method: FETCH
            path: /orders/noop
        consumes:
          - event: Something
            action: call
            endpoint: finish
            entity: Order
        gateway:
          auth: jwt
          rate_limit: {requests: 0}
          routes:
            - path: /elsewhere
              auth: {type: api_key}
        """)
    assert problems(tmp_path) == [
        "services/orders/service.yaml:9:11: endpoint 'finish': an endpoint on an entity needs"
        " '{id}' in its path",
        "services/orders/service.yaml:13:13: endpoint 'noop': expected one of 'GET', 'POST',"
        " 'PUT', 'PATCH', 'DELETE', found 'FETCH' (a string) (did you mean 'PATCH'?)",
        "services/orders/service.yaml:19:13: consumer 'Something': 'entity' is not used by"
        " action 'call'",
        "services/orders/service.yaml:21:9: jwt auth needs exactly one of 'secret' (HS256) or"
        " 'jwks_url'",
        "services/orders/service.yaml:22:26: must be at least 1, found 0 (an integer)",
        "services/orders/service.yaml:25:7: route 1: api_key auth needs the 'secret' holding"
        " the accepted keys",
    ]
