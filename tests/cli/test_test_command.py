"""``lcdev test``: options, exit codes and the reports a user and CI see."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner, Result

from lcdev.cli.main import app
from tests.cli.conftest import ENV, flat, lcdev
from tests.conftest import make_workspace, run_lcdev

ORDERS = "services/orders/service.yaml"


def _in_github_actions(*args: str) -> Result:
    runner = CliRunner(env={**ENV, "GITHUB_ACTIONS": "true"})
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_explains_the_checks_exit_codes_and_options() -> None:
    result = lcdev("test", "--help")
    assert result.exit_code == 0
    text = flat(result.stdout)
    assert "Usage: lcdev test [OPTIONS] [SERVICES]..." in text
    assert "Exit 0 when every check passed, 1 when a contract failed, 2 when something could " \
           "not be checked" in text
    for option in ("--running", "--backend", "--only", "--against", "--seed", "--max-examples",
                   "--examples", "--junit", "--json", "--no-stateful", "--workspace"):
        assert option in text


def test_invalid_definitions_exit_2_at_file_line_column_before_any_stack(shop: Path) -> None:
    path = shop / ORDERS
    text = path.read_text()
    path.write_text(text.replace("type: integer", "type: intger", 1))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "type: integer" in row)
    result = lcdev("test", "-w", str(shop))
    assert result.exit_code == 2
    assert re.search(rf"^{ORDERS}:{line}:\d+: .*unknown type 'intger'", result.stderr, re.M)
    assert "the definitions have errors; nothing was checked" in flat(result.stderr)
    assert not (shop / ".lcdev" / "run").exists()  # no stack was started


def test_invalid_definitions_with_json_list_the_problems(shop: Path) -> None:
    path = shop / ORDERS
    path.write_text(path.read_text() + "bogus_key: 1\n")
    result = lcdev("test", "--json", "-w", str(shop))
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2
    assert [p["file"] for p in data["problems"]] == [ORDERS]


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "api,nope"], "unknown check nope in --only"),
    (["--only", "breaking"], "the breaking check compares with a git ref"),
    (["ordres"], "no service 'ordres' in this workspace (did you mean 'orders'?)"),
    (["--examples", "GET /orders/orders"], "is not OPERATION=N"),
])
def test_usage_mistakes_exit_2_and_say_what_is_wrong(shop: Path, args: list[str],
                                                     message: str) -> None:
    result = lcdev("test", "-w", str(shop), *args)
    assert result.exit_code == 2
    assert message in flat(result.stderr)


def test_running_without_a_stack_could_not_check_and_says_so_everywhere(
        shop: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    result = _in_github_actions("test", "--running", "--only", "api", "--junit", str(report),
                                "-w", str(shop))
    assert result.exit_code == 2
    out = flat(result.stdout)
    assert "! API contracts 0 passed, 1 could not run" in out
    assert "no stack is running for" in out
    assert re.search(r"0 checks passed, 0 failed, 1 could not run in \d+\.\d s", out)
    assert "::error title=lcdev test%3A api%3A stack could not be checked::no stack is running" \
        in result.stdout
    suites = ET.parse(report).getroot()
    assert (suites.get("tests"), suites.get("errors")) == ("1", "1")


def test_json_output_has_the_findings_and_exit_code(shop: Path) -> None:
    result = lcdev("test", "--running", "--json", "-w", str(shop))
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2
    assert data["asked"] == ["api", "events"]
    names = {(f["check"], f["name"], f["outcome"]) for f in data["findings"]}
    assert ("api", "api: stack", "error") in names
    assert result.stderr == ""  # quiet: no progress with --json


@pytest.mark.stack
def test_the_shop_passes_on_an_ephemeral_stack_and_leaves_nothing_behind() -> None:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-cli-test-"))
    parent.chmod(0o755)
    try:
        root = make_workspace(parent)
        tmp = parent / "tmp"  # the copy goes there (TMPDIR), apart from other tests' copies
        tmp.mkdir(mode=0o755)
        result = run_lcdev("test", "payments", "--only", "api", "--max-examples", "3",
                           "--seed", "1", "--junit", str(parent / "report.xml"),
                           "-w", str(root), timeout=120, env={"TMPDIR": str(tmp)})
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✓ API contracts" in result.stdout
        assert re.search(r"ephemeral stack: up in [\d.]+ s, down in [\d.]+ s", result.stdout)
        suites = ET.parse(parent / "report.xml").getroot()
        assert int(suites.get("tests") or 0) >= 2
        assert (suites.get("failures"), suites.get("errors")) == ("0", "0")
        assert list(tmp.iterdir()) == []  # the copy is gone
        assert not (root / ".lcdev" / "data").exists()  # the user's own stack untouched
        # the copy's telemetry outlives it, and the report says where
        [kept] = (root / ".lcdev" / "test-runs").glob("*/telemetry.db")
        assert f"traces and logs of this run: {kept.relative_to(root)}" in result.stdout
        with sqlite3.connect(kept) as db:
            assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _lines(stream: Any) -> tuple[queue.Queue[str], threading.Thread]:
    """The lines of ``stream`` as they come, read in a thread (so waiting has a deadline)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return lines, thread


def _wait_for_line(lines: queue.Queue[str], text: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(text in line for line in seen):
        try:
            seen.append(lines.get(timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"no {text!r} on stderr within {timeout}s: {seen}") from None
    return seen


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.stack
def test_ctrl_c_stops_the_ephemeral_stack_and_exits_130() -> None:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-cli-int-"))
    parent.chmod(0o755)
    try:
        root = make_workspace(parent)
        tmp = parent / "tmp"  # the copy goes there (TMPDIR), apart from other tests' copies
        tmp.mkdir(mode=0o755)
        # its own process group, as a terminal's Ctrl-C signals the whole foreground group
        with subprocess.Popen(
                [sys.executable, "-m", "lcdev", "test", "--only", "api", "-w", str(root)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TMPDIR": str(tmp)},
                start_new_session=True) as proc:
            try:
                lines, pump = _lines(proc.stderr)
                _wait_for_line(lines, "checking API contracts", 120)
                [copy] = [d / "shop" for d in tmp.glob("lcdev-test-*")]
                status = json.loads(run_lcdev("status", "--json", "-w", str(copy)).stdout)
                ports = [urlsplit(c["url"]).port for c in status["components"]
                         if c.get("url")]
                assert ports, status
                assert all(ports), status
                assert not all(_port_is_free(port) for port in ports if port)
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=90)
            finally:
                if proc.poll() is None:  # pragma: no cover - only when the test failed
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            pump.join(5)
            stdout = proc.stdout.read() if proc.stdout else ""
        stderr = [lines.get() for _ in range(lines.qsize())]
        assert proc.returncode == 130, (stderr, stdout)
        assert stderr[-1] == "interrupted; the ephemeral stack was stopped\n", stderr
        assert not [line for line in stderr if "Aborted" in line or "Traceback" in line]
        assert stdout == ""  # no report of a run that did not finish
        assert [p for p in ports if p and not _port_is_free(p)] == []
        assert not copy.parent.exists()
        assert list(tmp.iterdir()) == []
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_the_report_shows_what_to_do_about_a_failure_without_colour() -> None:
    from io import StringIO

    from rich.console import Console

    from lcdev.cli.views.contract_report import contract_report
    from lcdev.contracts.findings import Finding

    curl = ("curl -X POST -H 'Content-Type: application/json' -d '{\"lines\": []}' "
            "http://127.0.0.1:41234/orders/orders")
    findings = [
        Finding("api", "orders: GET /orders/orders", "passed", service="orders"),
        Finding("api", "orders: POST /orders/orders", "failed", service="orders",
                message="Server error: 500", where="POST /orders/orders", reproduce=curl,
                trace_id="4bf92f3577b34da6a3ce929d0e0e4736", hint="check empty lines",
                details={"seed": 7}),
        Finding("events", "payments.PaymentProcessed -> orders", "passed", service="orders"),
    ]
    buffer = StringIO()
    console = Console(file=buffer, width=60, no_color=True, force_terminal=True)
    console.print(contract_report(findings, ("api", "events"), 12.34,
                                  check_seconds={"api": 10.0}, stack=(4.0, 2.0)),
                  soft_wrap=True)
    codes = re.findall(r"\x1b\[([\d;]*)m", buffer.getvalue())
    assert codes  # bold and dim stay: NO_COLOR is about colours
    assert not [c for c in codes if re.search(r"(^|;)(3[0-8]|9[0-7]|4[0-8])(;|$)", c)]
    text = re.sub(r"\x1b\[[\d;]*m", "", buffer.getvalue())
    assert text.splitlines() == [
        "✗ API contracts    1 passed, 1 failed  10.0 s",
        "  ✗ orders: POST /orders/orders — failed",
        "      Server error: 500",
        "      at: POST /orders/orders",
        f"      reproduce: {curl}",  # whole, even wider than the terminal: copy and paste
        "      trace: lcdev trace 4bf92f3577b34da6a3ce929d0e0e4736",
        "      hint: check empty lines",
        "      seed: 7 (lcdev test --seed 7 reproduces it)",
        "✓ event contracts  1 passed",
        "",
        "ephemeral stack: up in 4.0 s, down in 2.0 s",
        "the ephemeral stack is gone; its traces went with it; to replay a failure, `lcdev up`"
        " then `lcdev test --running --seed N`",
        "2 checks passed, 1 failed, 0 could not run in 12.3 s",
    ]


def test_the_report_points_at_the_kept_store_of_an_ephemeral_run() -> None:
    from rich.console import Console

    from lcdev.cli.views.contract_report import contract_report
    from lcdev.contracts.findings import Finding

    failed = Finding("api", "orders: POST /orders/orders", "failed", service="orders",
                     message="Server error: 500", reproduce="curl -X POST http://x/orders",
                     trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    console = Console(width=200, record=True, no_color=True)
    store = ".lcdev/test-runs/20261122-201500/telemetry.db"
    console.print(contract_report([failed], ("api",), 1.0, stack=(1.0, 1.0),
                                  telemetry_store=store))
    text = console.export_text()
    assert f"trace: lcdev trace 4bf92f3577b34da6a3ce929d0e0e4736 --store {store}" in text
    assert f"traces and logs of this run: {store}" in text
    assert f"its traces are kept in {store}" in text
