"""Breaking changes against a git ref, on a real git repository holding the shop workspace.

The shop is created once (``lcdev init``) in a subfolder of a temporary repository and
committed; each test copies that repository, edits the working tree like a user would, and
compares it with ``HEAD``. Line numbers are those of the shop template's files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lcdev.contracts.breaking import compare_with_ref
from lcdev.contracts.findings import exit_code
from tests.conftest import make_workspace

SERVICES = ("inventory", "notifications", "orders", "payments")
Edit = tuple[str, str, str]  # service, text before, text after


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=lcdev", "-c", "user.email=lcdev@example.com",
                    "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose subfolder ``ws`` is the shop workspace, committed."""
    repo = tmp_path_factory.mktemp("breaking") / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    make_workspace(repo, name="ws")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "baseline")
    return repo


@pytest.fixture
def ws(baseline: Path, tmp_path: Path) -> Path:
    """A fresh copy of the repository; the workspace folder in it."""
    shutil.copytree(baseline, tmp_path / "repo")
    return tmp_path / "repo" / "ws"


def edit(ws: Path, *edits: Edit) -> None:
    for service, before, after in edits:
        path = ws / "services" / service / "service.yaml"
        text = path.read_text()
        assert before in text, f"{before!r} not in {service}"
        path.write_text(text.replace(before, after, 1))


def broken(ws: Path) -> list[tuple[str, str, str]]:
    """(outcome, name, where) of every finding other than "compatible"."""
    findings = compare_with_ref(ws, "HEAD")
    assert all(f.check == "breaking" for f in findings)
    return [(f.outcome, f.name, f.where) for f in findings if "compatible with" not in f.name]


def test_unchanged_workspace_is_compatible_service_by_service(ws: Path) -> None:
    findings = compare_with_ref(ws, "HEAD")
    assert [(f.name, f.outcome) for f in findings] == [
        (f"{s}: compatible with HEAD", "passed") for s in SERVICES]
    assert exit_code(findings, ("breaking",)) == 0


ORD, PAY, INV, NTF = "orders", "payments", "inventory", "notifications"
ORDERS, PAYMENTS = "services/orders/service.yaml", "services/payments/service.yaml"
INVENTORY, NOTIFICATIONS = "services/inventory/service.yaml", "services/notifications/service.yaml"
CANCELLED_EVENT = ("  OrderCancelled:\n    description: An order was cancelled before payment.\n"
                   "    entity: Order\n    when: endpoint\n    key: order_id\n"
                   "    map: {order_id: id}\n    payload:\n      order_id: uuid!\n")

BREAKS: dict[str, tuple[list[Edit], list[tuple[str, str]], str]] = {
    # id: (edits, [(name, where)], a phrase of the first finding's message)
    "field removed": (
        [(NTF, "      sent: boolean = false\n", "")],
        [("notifications: - field Notification.sent", f"{NOTIFICATIONS}:14:7")],
        "column is dropped with its data (stored data)"),
    "type changed": (
        [(ORD, "total: {type: decimal, precision: 12, scale: 2, min: 0}", "total: integer")],
        [("orders: ~ field Order.total", f"{ORDERS}:13:7")], "type decimal → integer"),
    "string narrowed": (
        [(INV, "name: string(120)!", "name: string(100)!")],
        [("inventory: ~ field Stock.name", f"{INVENTORY}:12:7")], "max_length 120 → 100"),
    "enum value removed": (
        [(ORD, "enum(new, paid, rejected, cancelled)!", "enum(new, paid, rejected)!"),
         (ORD, "set: {status: cancelled}", "set: {status: rejected}")],
        [("orders: ~ field Order.status", f"{ORDERS}:12:7")], "enum values removed: cancelled"),
    "made required": (
        [(PAY, "      reason: text\n    crud", "      reason: text!\n    crud")],
        [("payments: ~ field Payment.reason", f"{PAYMENTS}:21:7")],
        "made required without a default"),
    "min and max tightened": (
        [(ORD, "{type: integer, min: 1, max: 1000,", "{type: integer, min: 2, max: 500,")],
        [("orders: ~ field OrderLine.quantity", f"{ORDERS}:23:41")], "max 1000 → 500; min 1 → 2"),
    "made unique": (
        [(NTF, "      order_id: uuid!",
          "      order_id: {type: uuid, required: true, unique: true}")],
        [("notifications: ~ field Notification.order_id", f"{NOTIFICATIONS}:11:46")],
        "made unique"),
    "required field added": (
        [(PAY, "      reason: text\n    crud", "      reason: text\n      note: text!\n    crud")],
        [("payments: + field Payment.note", f"{PAYMENTS}:22:7")], "existing rows have no value"),
    "crud narrowed": (
        [(ORD, "    crud: [list, get]", "    crud: [list]")],
        [("orders: - endpoint GET /orders/order-lines/{id}", f"{ORDERS}:24:5")],
        "no longer served"),
    "endpoint path changed": (
        [(ORD, "path: /orders/{id}/cancel", "path: /orders/{id}/abort")],
        [("orders: - endpoint POST /orders/orders/{id}/cancel", f"{ORDERS}:30:5")],
        "API clients calling it"),
    "route changed": (
        [(ORD, "version: 1.0.0\n", "version: 1.0.0\nroute: /shop-orders\n")],
        [("orders: ~ route /orders", f"{ORDERS}:4:1")], "/orders → /shop-orders"),
    "request field made required": (
        [(INV, "      customer_id: uuid\n", "      customer_id: uuid!\n")],
        [("inventory: ~ request field reserve.customer_id", f"{INVENTORY}:35:7")],
        "made required"),
    "request field removed": (
        [(INV, "      customer_id: uuid\n", "")],
        [("inventory: - request field reserve.customer_id", f"{INVENTORY}:35:7")],
        "sending it may be refused"),
    "gateway auth added": (
        [(PAY, "    crud: [list, get]\n", "    crud: [list, get]\n\ngateway:\n  auth: {type: jwt,"
          " secret: jwt_dev_key}\n")],
        [("payments: ~ gateway auth", f"{PAYMENTS}:25:3")], "none → jwt"),
    "event removed": (
        [(ORD, "    publish: OrderCancelled\n", ""), (ORD, CANCELLED_EVENT, "")],
        [("orders: - event OrderCancelled", f"{ORDERS}:47:3")], "event OrderCancelled removed"),
    "event renamed": (
        [(ORD, "  OrderCancelled:\n", "  OrderAborted:\n"),
         (ORD, "publish: OrderCancelled", "publish: OrderAborted")],
        [("orders: - event OrderCancelled", f"{ORDERS}:47:3")], "renamed to OrderAborted?"),
    "event payload field removed": (
        [(ORD, "      customer_id: uuid!\n      lines: json!", "      lines: json!")],
        [("orders: - event OrderPlaced.customer_id", f"{ORDERS}:45:7")],
        "consumers of OrderPlaced (inventory)"),
    "event payload field made optional": (
        [(INV, "      total: decimal(12, 2)!\n  StockRejected", "      total: decimal(12, 2)\n"
          "  StockRejected")],
        [("inventory: ~ event StockReserved.total", f"{INVENTORY}:48:7")],
        "consumers of StockReserved (payments)"),
    "event payload field made required": (
        [(PAY, "      order_id: uuid!\n      reason: text", "      order_id: uuid!\n"
          "      reason: text!")],
        [("payments: ~ event PaymentFailed.reason", f"{PAYMENTS}:42:7")],
        "old messages on the topic lack it"),
    "event topic changed": (
        [(ORD, "    key: order_id\n    map: {order_id: id}\n    payload:\n      order_id: uuid!\n"
          "      customer_id", "    key: order_id\n    topic: orders.placed\n"
          "    map: {order_id: id}\n    payload:\n      order_id: uuid!\n      customer_id")],
        [("orders: ~ event OrderPlaced topic", f"{ORDERS}:42:5")],
        "orders.OrderPlaced.v1 → orders.placed"),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_each_breaking_edit_is_one_failed_finding_at_its_line(ws: Path, case: str) -> None:
    edits, expected, says = BREAKS[case]
    edit(ws, *edits)
    findings = compare_with_ref(ws, "HEAD")
    failed = [f for f in findings if f.outcome == "failed"]
    assert [(f.name, f.where) for f in failed] == expected
    assert says in failed[0].message
    assert failed[0].hint
    services_broken = {f.service for f in failed}
    assert {f.name for f in findings if f.outcome == "passed"} == {
        f"{s}: compatible with HEAD" for s in SERVICES if s not in services_broken}
    assert exit_code(findings, ("breaking",)) == 1


def test_removed_things_point_into_the_ref_file(ws: Path) -> None:
    edit(ws, (NTF, "      sent: boolean = false\n", ""), (NTF, "      order_id: uuid!\n", "\n\n"
                                                          "      order_id: uuid!\n"))
    findings = compare_with_ref(ws, "HEAD")
    removed = next(f for f in findings if f.outcome == "failed")
    assert removed.where == f"{NOTIFICATIONS}:14:7"  # line 14 at HEAD, 16 in the working tree
    assert removed.details["at"] == "HEAD"


def test_removed_service_names_its_clients_consumers_and_tables(ws: Path) -> None:
    shutil.rmtree(ws / "services" / "notifications")
    assert broken(ws) == [("failed", "notifications: - service notifications",
                           f"{NOTIFICATIONS}:2:1")]


def test_removed_entity_is_one_finding_for_its_table_and_routes(ws: Path) -> None:
    path = ws / "services/notifications/service.yaml"
    text = path.read_text()
    path.write_text(text[:text.index("entities:")])  # the entity and its consumers go
    [(outcome, name, where)] = broken(ws)
    assert (outcome, name, where) == ("failed", "notifications: - entity Notification",
                                      f"{NOTIFICATIONS}:8:3")
    message = compare_with_ref(ws, "HEAD")[1].message
    assert "table is dropped" in message
    assert "API clients" in message


@pytest.mark.parametrize("edits", [
    [(ORD, "      reason: text\n", "      reason: text\n      note: string(200)\n")],
    [(ORD, "enum(new, paid, rejected, cancelled)!",
      "enum(new, paid, rejected, cancelled, refunded)!")],
    [(ORD, "    crud: [list, get]", "    crud: [list, get, create]")],
    [(ORD, "publishes:\n", "publishes:\n  OrderNoted:\n    payload:\n      order_id: uuid!\n")],
    [(INV, "name: string(120)!", "name: string(200)!"), (PAY, "reason: text\n    crud",
                                                        "reason: text! = none\n    crud")],
    [(ORD, "version: 1.0.0", "version: 1.1.0"), (ORD, "    summary: Cancel an order",
                                                "    summary: Cancel one order")],
], ids=["optional field", "enum value at the end", "crud widened", "new event",
        "widened and required with a default", "minor version and docs"])
def test_additive_edits_are_compatible(ws: Path, edits: list[Edit]) -> None:
    edit(ws, *edits)
    findings = compare_with_ref(ws, "HEAD")
    assert [(f.name, f.outcome) for f in findings] == [
        (f"{s}: compatible with HEAD", "passed") for s in SERVICES]


def test_major_version_bump_allows_breaking_its_own_contract(ws: Path) -> None:
    edit(ws, (ORD, "version: 1.0.0", "version: 2.0.0"),
         (ORD, "total: {type: decimal, precision: 12, scale: 2, min: 0}", "total: integer"))
    findings = compare_with_ref(ws, "HEAD")
    orders = [f for f in findings if f.service == "orders"]
    assert {f.name for f in orders} == {"orders: ~ field Order.total",
                                        "orders: ~ event OrderPlaced topic",
                                        "orders: ~ event OrderCancelled topic"}
    assert all(f.outcome == "passed" for f in orders)
    assert all(f.message.startswith("allowed (major version 1 → 2): ") for f in orders)
    assert exit_code(findings, ("breaking",)) == 0


def test_unknown_ref_is_one_error(ws: Path) -> None:
    findings = compare_with_ref(ws, "no-such-branch")
    assert [(f.outcome, f.name) for f in findings] == [
        ("error", "breaking changes against no-such-branch")]
    assert "unknown git ref 'no-such-branch'" in findings[0].message
    assert exit_code(findings, ("breaking",)) == 2


def test_not_a_git_repository_is_one_error(ws: Path, tmp_path: Path) -> None:
    outside = shutil.copytree(ws, tmp_path / "plain")
    findings = compare_with_ref(outside, "HEAD")
    assert [f.outcome for f in findings] == ["error"]
    assert "not in a git repository" in findings[0].message


def test_workspace_missing_at_the_ref_is_one_error(ws: Path) -> None:
    copy = shutil.copytree(ws, ws.parent / "ws2")
    findings = compare_with_ref(copy, "HEAD")
    assert [f.outcome for f in findings] == ["error"]
    assert "'ws2' does not exist at 'HEAD'" in findings[0].message


def test_invalid_working_tree_is_one_error_naming_the_problem(ws: Path) -> None:
    edit(ws, (ORD, "      reason: text\n      lines", "      lines"))
    findings = compare_with_ref(ws, "HEAD")
    assert [f.outcome for f in findings] == ["error"]
    assert f"{ORDERS}:68:11" in findings[0].message
    assert findings[0].where == f"{ORDERS}:68:11"
