"""Hot reload end to end: definitions edited under a running shop while requests keep flowing.

The real supervisor watches the workspace; the orders service swaps itself in place. Two
threads keep placing and reading orders through the gateway during every edit, and the test
asserts that none of their requests failed, that each good edit is live afterwards, that a
broken edit and a destructive edit changed nothing, and that every order placed meanwhile
still went through the whole event flow exactly once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lcdev.core.layout import WorkspaceLayout
from tests.conftest import make_workspace, run_lcdev, running_shop_stack, status_json

pytestmark = pytest.mark.stack

FINAL = {"paid", "rejected"}


class Traffic:
    """Places and reads orders through the gateway from two threads until stopped; records
    every request that did not get the answer it should have."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.base_url, self.headers = base_url, headers
        self.failures: list[str] = []
        self.orders: list[str] = []
        self.requests = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=10) as client:
            while not self._stop.is_set():
                self._one(client)

    def _one(self, client: httpx.Client) -> None:
        try:
            placed = client.post("/orders/orders", json={
                "customer_id": str(uuid.uuid4()), "lines": [{"sku": "SKU-1", "quantity": 1}]})
            if placed.status_code != 201:
                self.failures.append(f"POST {placed.status_code} {placed.text[:200]}")
                return
            order_id = placed.json()["id"]
            self.orders.append(order_id)
            read = client.get(f"/orders/orders/{order_id}")
            listed = client.get("/orders/orders", params={"limit": "5"})
            for response in (read, listed):
                if response.status_code != 200:
                    self.failures.append(f"GET {response.url.path} {response.status_code}"
                                         f" {response.text[:200]}")
            self.requests += 3
        except httpx.HTTPError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with running_shop_stack("lcdev-reload-") as running:
        yield running


def _history(root: Path) -> list[dict[str, Any]]:
    path = WorkspaceLayout(root).reloads_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _edit(root: Path, old: str, new: str) -> int:
    """Replace ``old`` by ``new`` in the orders definition (saved the way an editor does, in
    place); returns how many history entries there were before."""
    path = root / "services" / "orders" / "service.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in the orders definition"
    before = len(_history(root))
    path.write_text(text.replace(old, new, 1))
    return before


def _next_entry(root: Path, before: int, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = [e for e in _history(root)[before:] if e["type"] != "ReloadStarted"]
        if entries:
            return entries[0]
        time.sleep(0.02)
    raise AssertionError(f"no reload recorded within {timeout}s; history: {_history(root)}")


def _order(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    response = client.post("/orders/orders", json={
        "customer_id": str(uuid.uuid4()), "lines": [{"sku": "SKU-1", "quantity": 1}], **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _all_final(client: httpx.Client, order_ids: list[str],
               timeout: float = 30) -> dict[str, str]:
    """Each order's final status, once every one has one (the event flow ran for all)."""
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while len(statuses) < len(order_ids) and time.monotonic() < deadline:
        for order_id in order_ids:
            if order_id in statuses:
                continue
            response = client.get(f"/orders/orders/{order_id}")
            if response.status_code == 200 and response.json()["status"] in FINAL:
                statuses[order_id] = response.json()["status"]
        time.sleep(0.1)
    pending = sorted(set(order_ids) - set(statuses))
    assert not pending, f"{len(pending)} orders never finished: {pending[:5]}"
    return statuses


def _payments(client: httpx.Client, order_id: str) -> int:
    response = client.get("/payments/payments", params={"order_id": order_id, "count": "true"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_edits_reload_without_a_failed_request(stack: dict[str, Any]) -> None:
    root: Path = stack["root"]
    client: httpx.Client = stack["client"]
    headers = {"Authorization": client.headers["Authorization"]}
    with Traffic(stack["status"]["gateway_url"], headers) as traffic:
        time.sleep(0.5)

        # 1. a field added: applied as an additive migration, live at once
        before = _edit(root, "      reason: text\n",
                       "      reason: text\n      note: string(200)\n")
        entry = _next_entry(root, before)
        assert entry["type"] == "ServiceReloaded", entry
        assert (entry["name"], entry["how"]) == ("orders", "swapped")
        assert any("note" in change for change in entry["changes"]), entry
        assert 0 < entry["seconds"] < 5
        assert _order(client, note="leave at the door")["note"] == "leave at the door"

        # 2. an endpoint added
        before = _edit(root, "publishes:\n", (
            "  flag:\n    summary: Flag an order for a human to look at.\n    method: POST\n"
            "    path: /orders/{id}/flag\n    entity: Order\n    guard: status in [new, paid]\n"
            "    set: {reason: flagged}\n\npublishes:\n"))
        entry = _next_entry(root, before)
        assert entry["type"] == "ServiceReloaded", entry
        flagged = client.post(f"/orders/orders/{_order(client)['id']}/flag")
        assert flagged.status_code == 200, flagged.text
        assert flagged.json()["reason"] == "flagged"

        # 3. a broken edit: reported at file:line:column, nothing changes
        before = _edit(root, "      note: string(200)\n", "      note: strng(200)\n")
        entry = _next_entry(root, before)
        assert (entry["type"], entry["reason"]) == ("ReloadFailed", "invalid"), entry
        assert any(p.startswith("services/orders/service.yaml:") for p in entry["problems"])
        assert _order(client, note="still here")["note"] == "still here"
        before = _edit(root, "      note: strng(200)\n", "      note: string(200)\n")
        # the fixed file is the version already serving: nothing to swap, or a no-op swap
        time.sleep(0.3)

        # 4. a destructive edit: refused with the way to allow it; the column keeps its data
        kept = _order(client, note="keep me")
        before = _edit(root, "      note: string(200)\n", "")
        entry = _next_entry(root, before)
        assert (entry["type"], entry["reason"]) == ("ReloadFailed", "destructive"), entry
        assert "lcdev apply --allow-destructive orders" in entry["hint"]
        assert client.get(f"/orders/orders/{kept['id']}").json()["note"] == "keep me"

        # ... until the user allows it
        applied = run_lcdev("apply", "orders", "--allow-destructive", "-w", str(root))
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "note" not in client.get(f"/orders/orders/{kept['id']}").json()
        time.sleep(0.5)

    assert traffic.requests > 30, "the traffic threads barely ran"
    assert traffic.failures == [], traffic.failures[:10]
    statuses = _all_final(client, traffic.orders)
    for order_id in traffic.orders[:: max(1, len(traffic.orders) // 10)]:
        # paid: charged exactly once; rejected (stock ran out): charged at most once
        expected = {1} if statuses[order_id] == "paid" else {0, 1}
        assert _payments(client, order_id) in expected, (order_id, statuses[order_id])
    assert "paid" in statuses.values()

    listed = run_lcdev("reloads", "--json", "-w", str(root))
    assert listed.returncode == 0, listed.stderr
    outcomes = [(e["type"], e.get("reason", "")) for e in json.loads(listed.stdout)]
    assert ("ReloadFailed", "invalid") in outcomes
    assert ("ReloadFailed", "destructive") in outcomes
    assert sum(1 for kind, _ in outcomes if kind == "ServiceReloaded") >= 3


def test_a_new_service_folder_starts_and_its_removal_stops_it(stack: dict[str, Any]) -> None:
    root: Path = stack["root"]
    client: httpx.Client = stack["client"]
    folder = root / "services" / "coupons"
    folder.mkdir()
    before = len(_history(root))
    (folder / "service.yaml").write_text(
        "name: coupons\nversion: 0.1.0\nentities:\n  Coupon:\n    fields:\n"
        "      code: string(20)!\n      percent: {type: integer, min: 1, max: 90}\n")
    entry = _next_entry(root, before, timeout=30)
    assert (entry["type"], entry["how"]) == ("ServiceReloaded", "started"), entry
    created = client.post("/coupons/coupons", json={"code": "WELCOME", "percent": 10})
    assert created.status_code == 201, created.text
    anonymous = httpx.Client(base_url=stack["status"]["gateway_url"], timeout=10)
    assert anonymous.get("/coupons/coupons").status_code == 200

    # a gateway policy edit: the gateway asks for a token from the next request on
    before = len(_history(root))
    with (folder / "service.yaml").open("a") as definition:
        definition.write("gateway:\n  auth: {type: jwt, secret: jwt_dev_key}\n")
    entry = _next_entry(root, before)
    assert entry["type"] == "ServiceReloaded", entry
    assert any("gateway" in change for change in entry["changes"]), entry
    refused = anonymous.get("/coupons/coupons")
    assert refused.status_code == 401, refused.text
    assert client.get("/coupons/coupons").status_code == 200
    anonymous.close()

    before = len(_history(root))
    (folder / "service.yaml").unlink()
    folder.rmdir()
    entry = _next_entry(root, before)
    assert (entry["type"], entry["how"]) == ("ServiceReloaded", "stopped"), entry
    gone = client.get("/coupons/coupons")
    assert gone.status_code == 404, gone.text


def test_a_save_while_the_stack_starts_is_applied_once_it_is_ready(open_tmp: Path) -> None:
    root = make_workspace(open_tmp)
    definition = root / "services" / "orders" / "service.yaml"
    up = subprocess.Popen([sys.executable, "-m", "lcdev", "up", "-d", "-w", str(root)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not WorkspaceLayout(root).socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        definition.write_text(definition.read_text().replace("version: 1.0.0", "version: 1.0.1"))
        _, errors = up.communicate(timeout=120)
        assert up.returncode == 0, errors
        entry = _next_entry(root, 0)
        assert (entry["type"], entry["name"]) == ("ServiceReloaded", "orders"), entry
        services = {s["name"]: s for s in status_json(root)["services"]}
        assert services["orders"]["version"] == "1.0.1"
    finally:
        if up.poll() is None:
            up.kill()
        run_lcdev("down", "-v", "-w", str(root))
