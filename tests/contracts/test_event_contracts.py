"""Event contracts: the static compatibility check and events published for real on a stack.

The shop passes both. ``fixtures/events_mismatch`` (ledger maps billing's optional text
``amount`` into its required decimal) is accepted by the loader; the static check fails exactly
that subscription at the ``map`` entry, and the runtime check sees it dead-lettered.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lcdev.contracts.events import check_event_compatibility, run_event_checks
from lcdev.contracts.findings import Finding
from lcdev.definitions.loader import LoadedWorkspace, load_workspace
from tests.conftest import make_workspace, run_lcdev, status_json

FIXTURES = Path(__file__).parent / "fixtures"
SHOP_SUBSCRIPTIONS = {
    "orders.OrderPlaced -> inventory",
    "payments.PaymentProcessed -> notifications",
    "payments.PaymentFailed -> notifications",
    "inventory.StockRejected -> notifications",
    "payments.PaymentProcessed -> orders",
    "payments.PaymentFailed -> orders",
    "inventory.StockRejected -> orders",
    "inventory.StockReserved -> payments",
}


@dataclass(frozen=True)
class Target:
    """What ``run_event_checks`` needs of ``lcdev.contracts.stack.ContractTarget``."""

    root: Path
    loaded: LoadedWorkspace
    dsn: str
    bootstrap: str


def _by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {f.name: f for f in findings}


@pytest.fixture(scope="module")
def module_tmp() -> Iterator[Path]:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="lcdev-events-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _up(root: Path) -> Target:
    result = run_lcdev("up", "-d", "--no-watch", "-w", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    urls = {c["name"]: c["url"] for c in status_json(root)["components"]}
    loaded = load_workspace(root)
    assert loaded.ok, loaded.errors
    return Target(root, loaded, urls["postgres"], urls["kafka"].removeprefix("kafka://"))


@pytest.fixture(scope="module")
def shop_root(module_tmp: Path) -> Path:
    return make_workspace(module_tmp)


@pytest.fixture(scope="module")
def mismatch_root(module_tmp: Path) -> Path:
    root = module_tmp / "events_mismatch"
    shutil.copytree(FIXTURES / "events_mismatch", root)
    return root


def _running(root: Path) -> Iterator[Target]:
    try:
        yield _up(root)
    finally:
        run_lcdev("down", "-v", "-w", str(root))


@pytest.fixture
def shop_stack(shop_root: Path) -> Iterator[Target]:
    yield from _running(shop_root)


@pytest.fixture
def mismatch_stack(mismatch_root: Path) -> Iterator[Target]:
    yield from _running(mismatch_root)


def test_the_shop_is_compatible(shop_root: Path) -> None:
    findings = check_event_compatibility(load_workspace(shop_root))
    assert set(_by_name(findings)) == SHOP_SUBSCRIPTIONS
    assert [f for f in findings if f.outcome != "passed"] == []
    assert {f.check for f in findings} == {"events"}
    where = _by_name(findings)["payments.PaymentProcessed -> orders"].where
    assert where == "services/orders/service.yaml:57:5"  # the consumes entry


def test_a_mapped_field_of_another_type_fails_that_subscription(mismatch_root: Path) -> None:
    loaded = load_workspace(mismatch_root)
    assert loaded.ok, loaded.errors  # the loader accepts it
    found = _by_name(check_event_compatibility(loaded))
    assert found["billing.InvoiceVoided -> ledger"].outcome == "passed"
    failed = found["billing.InvoicePaid -> ledger"]
    assert failed.outcome == "failed"
    assert failed.where == "services/ledger/service.yaml:24:43"  # map: {..., amount: amount}
    assert failed.message == "map amount <- InvoicePaid.amount: a text is not a number"
    assert "compatible type" in failed.hint
    assert failed.service == "ledger"


def _edit(root: Path, service: str, old: str, new: str) -> None:
    path = root / "services" / service / "service.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_an_optional_field_relied_on_as_required_fails(tmp_path: Path,
                                                        shop_root: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(shop_root, root, ignore=shutil.ignore_patterns(".lcdev"))
    # PaymentFailed.order_id made optional: orders matches its row by it, notifications
    # stores it in a required column.
    _edit(root, "payments", "      order_id: uuid!\n      reason: text",
          "      order_id: uuid\n      reason: text")
    found = _by_name(check_event_compatibility(load_workspace(root)))
    failed = {n for n, f in found.items() if f.outcome == "failed"}
    assert failed == {"payments.PaymentFailed -> orders",
                      "payments.PaymentFailed -> notifications"}
    orders = found["payments.PaymentFailed -> orders"]
    assert "order_id is optional in PaymentFailed, and a null finds no row" in orders.message
    assert orders.where == "services/orders/service.yaml:68:17"  # match: {id: order_id}
    assert "cannot be stored in required order_id" in (
        found["payments.PaymentFailed -> notifications"].message)


def test_conditions_that_cannot_hold_fail(tmp_path: Path, shop_root: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(shop_root, root, ignore=shutil.ignore_patterns(".lcdev"))
    # StockReserved also carries the reservation's status; payments compares it with a typo.
    _edit(root, "inventory", "      total: decimal(12, 2)!\n",
          "      total: decimal(12, 2)!\n      status: enum(reserved, rejected)!\n")
    _edit(root, "payments", "if: total > settings.approval_limit",
          "if: status == reservd")
    loaded = load_workspace(root)
    assert loaded.ok, loaded.errors
    found = _by_name(check_event_compatibility(loaded))
    failed = found["inventory.StockReserved -> payments"]
    assert failed.outcome == "failed"
    assert "is never reservd" in failed.message
    assert failed.where.startswith("services/payments/service.yaml:")


def _run(target: Target, **kwargs: Any) -> list[Finding]:
    return asyncio.run(run_event_checks(target, **kwargs))


def test_events_published_on_the_shop_are_consumed(shop_stack: Target) -> None:
    findings = _run(shop_stack, seed=7, count=3)
    found = _by_name(findings)
    assert set(found) == SHOP_SUBSCRIPTIONS
    assert {n: f.message for n, f in found.items() if f.outcome != "passed"} == {}
    for finding in findings:
        invalid = finding.details["invalid_event"]
        assert invalid["reason"].startswith("payload does not match the contract"), invalid
        assert invalid["code"] == "invalid_payload", invalid
        assert finding.details["seed"] == 7
        assert len(finding.details["valid_events"]) == 4
    # orders' `update`s find no row for generated ids: handled, told apart by the code alone
    without_effect = [d for f in findings if f.service == "orders"
                      for d in f.details["handled_without_effect"].values()]
    assert without_effect
    assert {d["code"] for d in without_effect} == {"no_match"}, without_effect


def test_the_runtime_check_catches_what_the_loader_accepts(mismatch_stack: Target) -> None:
    found = _by_name(_run(mismatch_stack, seed=3, count=3))
    assert found["billing.InvoiceVoided -> ledger"].outcome == "passed"
    failed = found["billing.InvoicePaid -> ledger"]
    assert failed.outcome == "failed", failed
    letters = list(failed.details["dead_letters"].values())
    assert letters
    assert all(d["reason"].startswith("action failed") for d in letters), letters
    assert any("cannot store" in d["reason"] or "null" in d["reason"] for d in letters), letters
    # a value the column cannot hold, or a null in a required column: not "for its data"
    assert {d["code"] for d in letters} <= {"invalid_payload", "failed"}, letters
    assert failed.details["invalid_event"]["code"] == "invalid_payload"
    assert failed.details["invalid_event"]["reason"]


def test_an_unreachable_stack_is_an_error_not_a_crash(shop_root: Path) -> None:
    target = Target(shop_root, load_workspace(shop_root), "postgresql://lcdev@127.0.0.1:9/x",
                    "127.0.0.1:9")
    findings = _run(target, seed=1, count=1)
    assert set(_by_name(findings)) == SHOP_SUBSCRIPTIONS
    assert {f.outcome for f in findings} == {"error"}
    assert "cannot reach Kafka" in findings[0].message
