"""``lcdev test``: options, exit codes and the reports a user and CI see."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

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
        before = set(Path(tempfile.gettempdir()).glob("lcdev-test-*"))
        result = run_lcdev("test", "payments", "--only", "api", "--max-examples", "3",
                           "--seed", "1", "--junit", str(parent / "report.xml"),
                           "-w", str(root), timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✓ API contracts" in result.stdout
        assert re.search(r"ephemeral stack: up in [\d.]+ s, down in [\d.]+ s", result.stdout)
        suites = ET.parse(parent / "report.xml").getroot()
        assert int(suites.get("tests") or 0) >= 2
        assert (suites.get("failures"), suites.get("errors")) == ("0", "0")
        assert set(Path(tempfile.gettempdir()).glob("lcdev-test-*")) <= before
        assert not (root / ".lcdev" / "data").exists()  # the user's own stack untouched
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
        "the ephemeral stack is gone, and its traces with it: to replay a failure, `lcdev up`"
        " then `lcdev test --running --seed N` (its curl then targets your stack and"
        " `lcdev trace` finds its trace)",
        "2 checks passed, 1 failed, 0 could not run in 12.3 s",
    ]
