"""``lcdev apply``: usage errors and no stack running here; against a real stack started with
``lcdev up --no-watch`` in the ``stack`` tests below."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lcdev.supervisor import launcher
from lcdev.supervisor.client import SupervisorClient
from tests.cli.conftest import flat, lcdev
from tests.conftest import make_workspace, run_lcdev, status_json


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "lcdev.yaml").write_text("name: shop\n")
    return tmp_path


def test_without_a_stack_it_says_to_start_one(ws: Path) -> None:
    result = lcdev("apply", "orders", "-w", str(ws))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert flat(result.stderr) == (
        f"error: no stack is running for {ws} hint: start it with `lcdev up` (it then reloads "
        "on every save by itself)")


def test_a_stale_supervisor_record_is_no_stack(ws: Path) -> None:
    run = ws / ".lcdev" / "run"
    run.mkdir(parents=True)
    (run / "supervisor.json").write_text(json.dumps({
        "pid": 999999, "socket": str(run / "control.sock"), "backend": "native",
        "started_at": 0.0, "workspace": str(ws)}))
    result = lcdev("apply", "--json", "-w", str(ws))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "no stack is running" in flat(result.stderr)


def test_allow_destructive_needs_the_services_named(ws: Path) -> None:
    result = lcdev("apply", "--allow-destructive", "-w", str(ws))
    assert result.exit_code == 2  # a usage error, whether a stack runs or not
    assert flat(result.stderr) == (
        "error: --allow-destructive needs the services it applies to: destructive changes are "
        "allowed per service hint: name them, e.g. `lcdev apply --allow-destructive orders`")


def test_outside_a_workspace_says_how_to_get_one(tmp_path: Path) -> None:
    result = lcdev("apply", "-w", str(tmp_path))
    assert result.exit_code == 2
    assert "is not a workspace" in flat(result.stderr)


# --- against a real stack -------------------------------------------------------------------

_READY = (hasattr(SupervisorClient, "reload")
          and "watch" in inspect.signature(launcher.spawn_supervisor).parameters)


@pytest.fixture
def unwatched_shop(open_tmp: Path) -> Iterator[Path]:
    """The shop, started with ``lcdev up -d --no-watch``; ``down -v`` afterwards."""
    root = make_workspace(open_tmp)
    result = run_lcdev("up", "-d", "--no-watch", "-w", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    yield root
    run_lcdev("down", "-v", "-w", str(root))


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "services" / "orders" / "service.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _order_fields(gateway: str) -> set[str]:
    """The fields of Order in the OpenAPI document orders serves now."""
    document = httpx.get(f"{gateway}/orders/openapi.json", timeout=10).json()
    schema: dict[str, Any] = document["components"]["schemas"]["Order"]
    return set(schema["properties"])


def _apply(root: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run_lcdev("apply", "--json", *args, "-w", str(root))
    return result.returncode, json.loads(result.stdout)


@pytest.mark.stack
@pytest.mark.skipif(not _READY, reason="needs SupervisorClient.reload and spawn_supervisor(watch=)"
                    " from the supervisor side of hot reload")
def test_apply_reloads_on_request_refuses_broken_and_destructive_edits(
    unwatched_shop: Path
) -> None:
    root = unwatched_shop
    gateway = status_json(root)["gateway_url"]
    assert "note" not in _order_fields(gateway)
    _edit(root, "version: 1.0.0", "version: 1.1.0")
    _edit(root, "      reason: text\n", "      reason: text\n      note: text\n")
    time.sleep(0.5)  # a watching supervisor would have swapped it by now
    assert "note" not in _order_fields(gateway)

    code, events = _apply(root, "orders")
    assert code == 0, events
    reloaded = [e for e in events if e["type"] == "ServiceReloaded"]
    assert [(e["name"], e["version_before"], e["version_after"]) for e in reloaded] == [
        ("orders", "1.0.0", "1.1.0")]
    assert "note" in _order_fields(gateway)

    _edit(root, "      note: text\n", "      note: strng\n")
    broken = run_lcdev("apply", "orders", "-w", str(root))
    assert broken.returncode == 1
    assert "✗ orders not reloaded (invalid)" in broken.stderr
    assert "services/orders/service.yaml:" in broken.stderr
    assert "note" in _order_fields(gateway)  # still the version that served

    _edit(root, "      note: strng\n", "")  # dropping the column would lose its data
    code, events = _apply(root, "orders")
    assert code == 1
    assert [(e["type"], e["reason"]) for e in events if e["type"] == "ReloadFailed"] == [
        ("ReloadFailed", "destructive")]
    assert "note" in _order_fields(gateway)

    code, events = _apply(root, "--allow-destructive", "orders")
    assert code == 0, events
    assert "note" not in _order_fields(gateway)

    history = json.loads(run_lcdev("reloads", "--json", "-s", "orders", "-w", str(root)).stdout)
    assert [e.get("reason", e["type"]) for e in history][-4:] == [
        "ServiceReloaded", "invalid", "destructive", "ServiceReloaded"]
