"""Running the checks: exit codes from real findings, crashes and missing checks reported as
findings, and the ephemeral stack started for real and always torn down."""

from __future__ import annotations

import contextlib
import importlib
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from lcdev.contracts.findings import Check, Finding
from lcdev.contracts.run import CheckRunners, RunOptions, checks_asked, run_contract_checks
from lcdev.contracts.stack import (
    KEPT_RUNS,
    ContractTarget,
    StackNotAvailable,
    StackTimings,
    ephemeral_target,
    free_every_port,
    keep_telemetry_store,
    kept_runs_dir,
    running_target,
)
from lcdev.definitions import LoadedWorkspace, load_workspace
from tests.conftest import make_workspace

ALL: tuple[Check, ...] = ("api", "events", "breaking")


@pytest.fixture(scope="module")
def shop_root() -> Iterator[Path]:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-run-"))
    parent.chmod(0o755)
    yield make_workspace(parent)
    shutil.rmtree(parent, ignore_errors=True)


def _target(root: Path) -> ContractTarget:
    return ContractTarget(root=root, loaded=load_workspace(root), gateway_url="http://127.0.0.1:1",
                          token=None, dsn="", bootstrap="", services={})


def _in_memory_stack(root: Path) -> Any:
    """A target factory that opens nothing: the checks below do not talk to a stack."""
    return lambda _timings: contextlib.nullcontext(_target(root))


def _found(check: Check, *outcomes: str) -> list[Finding]:
    return [Finding(check=check, name=f"{check}: case {n}", outcome=o, service="orders")  # type: ignore[arg-type]
            for n, o in enumerate(outcomes)]


def _runners(api: Any = None, compat: Any = None, runtime: Any = None,
             breaking: Any = None) -> CheckRunners:
    def none(*_args: object) -> list[Finding]:
        return []
    return CheckRunners(api=api or none, event_compatibility=compat or none,
                        event_runtime=runtime or none, breaking=breaking or none)


def _run(root: Path, runners: CheckRunners, asked: tuple[Check, ...] = ("api", "events"),
         target: Any = None) -> Any:
    options = RunOptions(asked=asked, against="HEAD" if "breaking" in asked else None)
    return run_contract_checks(root, load_workspace(root), options,
                               target or _in_memory_stack(root), runners=runners)


def test_checks_asked_default_to_api_and_events_and_breaking_needs_a_ref() -> None:
    assert checks_asked((), None) == ("api", "events")
    assert checks_asked((), "origin/main") == ALL
    assert checks_asked(("breaking",), "v1") == ("breaking",)


def test_by_default_a_check_the_workspace_has_nothing_for_is_not_asked(tmp_path: Path) -> None:
    (tmp_path / "lcdev.yaml").write_text("name: labels\n")
    service = tmp_path / "services" / "labels"
    service.mkdir(parents=True)
    (service / "service.yaml").write_text(
        "name: labels\nentities:\n  Label:\n    fields:\n      text: string(40)!\n")
    loaded = load_workspace(tmp_path)
    assert checks_asked((), None, loaded) == ("api",)  # no service consumes an event
    assert checks_asked((), "v1", loaded) == ("api", "breaking")
    assert checks_asked(("events",), None, loaded) == ("events",)  # asked: must check
    (service / "service.yaml").write_text("name: labels\nkind: process\n"
                                          "process: {command: [python, app.py]}\n")
    assert checks_asked((), None, load_workspace(tmp_path)) == ("api",)  # never empty


def test_all_passed_exits_0(shop_root: Path) -> None:
    run = _run(shop_root, _runners(api=lambda *_: _found("api", "passed", "passed"),
                                   compat=lambda _l: _found("events", "passed"),
                                   runtime=lambda *_: _found("events", "skipped")))
    assert [f.outcome for f in run.findings] == ["passed", "passed", "passed", "skipped"]
    assert run.exit_code == 0
    assert set(run.check_seconds) == {"api", "events"}


def test_one_failed_contract_exits_1(shop_root: Path) -> None:
    run = _run(shop_root, _runners(api=lambda *_: _found("api", "passed", "failed"),
                                   compat=lambda _l: _found("events", "passed")))
    assert run.exit_code == 1


def test_an_async_check_is_awaited(shop_root: Path) -> None:
    async def api(_target: ContractTarget, _options: RunOptions) -> list[Finding]:
        return _found("api", "failed")

    run = _run(shop_root, _runners(api=api, compat=lambda _l: _found("events", "passed")))
    assert [f.outcome for f in run.findings] == ["passed", "failed"]
    assert run.exit_code == 1


def test_a_check_that_checked_nothing_is_never_a_pass(shop_root: Path) -> None:
    run = _run(shop_root, _runners(compat=lambda _l: _found("events", "passed")))
    assert [(f.name, f.outcome) for f in run.findings if f.check == "api"] == [
        ("api: nothing checked", "error")]
    assert run.exit_code == 2


def test_a_check_that_crashes_is_an_error_finding_and_the_others_still_run(
        shop_root: Path) -> None:
    def api(_target: ContractTarget, _options: RunOptions) -> list[Finding]:
        raise ValueError("boom")

    run = _run(shop_root, _runners(api=api, compat=lambda _l: _found("events", "passed"),
                                   runtime=lambda *_: _found("events", "passed")))
    crashed = [f for f in run.findings if f.check == "api"]
    assert [(f.name, f.outcome) for f in crashed] == [("api: crashed", "error")]
    assert "ValueError: boom" in crashed[0].message
    assert sum(f.check == "events" and f.outcome == "passed" for f in run.findings) == 2
    assert run.exit_code == 2


def test_a_missing_check_module_is_reported_as_not_available(shop_root: Path) -> None:
    def breaking(_root: Path, _ref: str) -> list[Finding]:
        importlib.import_module("lcdev.contracts.no_such_check")
        return []

    run = _run(shop_root, _runners(breaking=breaking), asked=("breaking",))
    assert [f.outcome for f in run.findings] == ["error"]
    assert run.findings[0].message.startswith("the breaking check is not available: ")
    assert run.exit_code == 2


def test_a_stack_that_does_not_start_makes_its_checks_errors_but_static_ones_run(
        shop_root: Path) -> None:
    @contextlib.contextmanager
    def no_stack(_timings: StackTimings) -> Iterator[ContractTarget]:
        raise StackNotAvailable("the ephemeral stack did not start", "check lcdev doctor",
                                "postgres: port taken")
        yield _target(shop_root)  # pragma: no cover

    run = _run(shop_root, _runners(api=lambda *_: _found("api", "passed"),
                                   compat=lambda _l: _found("events", "passed")),
               target=no_stack)
    assert [(f.check, f.name, f.outcome) for f in run.findings] == [
        ("events", "events: case 0", "passed"),
        ("api", "api: stack", "error"), ("events", "events: stack", "error")]
    assert "postgres: port taken" in run.findings[1].message
    assert run.exit_code == 2


def test_services_given_leave_out_findings_about_other_services(shop_root: Path) -> None:
    findings = [Finding("api", "orders: GET /orders/orders", "passed", service="orders"),
                Finding("api", "payments: GET /payments/payments", "failed", service="payments")]
    options = RunOptions(asked=("api",), services=("orders",))
    run = run_contract_checks(shop_root, load_workspace(shop_root), options,
                              _in_memory_stack(shop_root),
                              runners=_runners(api=lambda *_: findings))
    assert [f.service for f in run.findings] == ["orders"]
    assert run.exit_code == 0


def test_every_port_of_the_copy_is_made_free_keeping_comments(tmp_path: Path) -> None:
    path = tmp_path / "lcdev.yaml"
    path.write_text("# my shop\nname: shop\ngateway:\n  port: 8800  # the door\n"
                    "ports:\n  postgres: 15432\n")
    free_every_port(path)
    text = path.read_text()
    assert "# my shop" in text
    assert "# the door" in text
    loaded = load_workspace(tmp_path)
    assert loaded.workspace is not None
    assert loaded.workspace.gateway.port == 0
    assert loaded.workspace.telemetry.port == 0
    assert loaded.workspace.ports == {"postgres": 0, "kafka": 0}


def _port_is_free(port: int) -> bool:
    """Nothing listens there (a closed connection's TIME_WAIT does not count, as for servers
    that bind with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _inspect_then_raise(root: Path, timings: StackTimings, seen: dict[str, Any]) -> None:
    """Look at the running ephemeral stack, then fail like a crashing check would."""
    with ephemeral_target(root, "native", timings=timings) as target:
        seen["root"] = target.root
        seen["health"] = httpx.get(f"{target.gateway_url}/_lcdev/health", timeout=5).status_code
        urls = (target.gateway_url, target.dsn, f"kafka://{target.bootstrap}",
                *target.services.values())
        seen["ports"] = [(url, urlsplit(url).port) for url in urls]
        seen["services"] = sorted(target.services)
        seen["token"] = target.token
        seen["running"] = running_target(target.root).gateway_url == target.gateway_url
        raise RuntimeError("a check blew up")


@pytest.mark.stack
def test_the_ephemeral_stack_really_runs_and_is_torn_down_when_a_check_raises(
        shop_root: Path) -> None:
    before = (shop_root / "lcdev.yaml").read_text()
    timings = StackTimings()
    seen: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="a check blew up"):
        _inspect_then_raise(shop_root, timings, seen)
    assert seen["health"] == 200
    assert seen["running"]
    assert seen["services"] == ["inventory", "notifications", "orders", "payments"]
    assert str(seen["token"]).count(".") == 2  # a JWT
    assert seen["root"] != shop_root
    assert not seen["root"].parent.exists()
    assert len(seen["ports"]) == 7
    assert [(url, port) for url, port in seen["ports"] if not port or not _port_is_free(port)
            ] == []
    assert timings.up > 0
    assert timings.down > 0
    assert (shop_root / "lcdev.yaml").read_text() == before  # the user's workspace untouched
    assert not (shop_root / ".lcdev" / "run").exists()


def test_a_stack_that_cannot_start_raises_and_leaves_no_copy(shop_root: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("lcdev-test-*"))
    with pytest.raises(StackNotAvailable) as raised, \
            ephemeral_target(shop_root, "no-such-backend"):
        pass  # pragma: no cover
    assert str(raised.value) == "the ephemeral stack did not start"
    assert "no-such-backend" in raised.value.output
    assert set(Path(tempfile.gettempdir()).glob("lcdev-test-*")) <= before


def test_running_target_says_when_nothing_runs(shop_root: Path) -> None:
    with pytest.raises(StackNotAvailable, match="no stack is running"):
        running_target(shop_root)


def test_a_target_for_an_in_memory_loaded_workspace_has_no_token(tmp_path: Path) -> None:
    from lcdev.contracts.stack import development_token

    assert development_token(LoadedWorkspace(root=tmp_path, workspace=None)) is None


def test_ctrl_c_swallowed_by_a_check_still_stops_the_run_and_closes_the_stack(
        shop_root: Path) -> None:
    pressed: list[str] = []
    closed: list[bool] = []
    ran: list[str] = []

    @contextlib.contextmanager
    def stack(_timings: StackTimings) -> Iterator[ContractTarget]:
        try:
            yield _target(shop_root)
        finally:
            closed.append(True)

    def api(_target: ContractTarget, _options: RunOptions) -> list[Finding]:
        pressed.append("ctrl-c")  # as schemathesis: Ctrl-C noted, caught, findings returned
        return _found("api", "passed")

    def runtime(_target: ContractTarget, _options: RunOptions) -> list[Finding]:
        ran.append("events")  # pragma: no cover - must not run after Ctrl-C
        return []

    options = RunOptions(asked=("api", "events"))
    with pytest.raises(KeyboardInterrupt):
        run_contract_checks(shop_root, load_workspace(shop_root), options, stack,
                            runners=_runners(api=api, runtime=runtime),
                            interrupted=lambda: bool(pressed))
    assert closed == [True]
    assert ran == []


def _telemetry_store(copy: Path, rows: int) -> None:
    store = copy / ".lcdev" / "telemetry" / "telemetry.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("PRAGMA journal_mode=wal")
        db.execute("CREATE TABLE IF NOT EXISTS spans (n int)")
        db.execute("DELETE FROM spans")
        db.executemany("INSERT INTO spans VALUES (?)", [(n,) for n in range(rows)])
        db.commit()


def test_the_copys_telemetry_is_kept_in_the_workspace_for_the_last_5_runs(
        tmp_path: Path) -> None:
    root, copy = tmp_path / "shop", tmp_path / "copy"
    older = kept_runs_dir(root) / "20200101-000000"
    older.mkdir(parents=True)
    kept = []
    for rows in range(1, 8):  # the same second, often: suffixes order them
        _telemetry_store(copy, rows)
        path = keep_telemetry_store(copy, root)
        assert path is not None
        kept.append(path)
    left = sorted(p.parent.name for p in kept_runs_dir(root).glob("*/telemetry.db"))
    assert len(left) == KEPT_RUNS
    assert not older.exists()
    assert [p.exists() for p in kept] == [False, False, True, True, True, True, True]
    with contextlib.closing(sqlite3.connect(kept[-1])) as db:
        assert db.execute("SELECT count(*) FROM spans").fetchone() == (7,)
    assert keep_telemetry_store(tmp_path / "nothing", root) is None
