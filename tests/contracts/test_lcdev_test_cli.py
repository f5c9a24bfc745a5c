"""`lcdev test` as CI runs it: the real command on an ephemeral stack, its exit code, its report
and its JUnit file, for the shop (passes) and for fixture workspaces with one planted defect."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import make_workspace, run_lcdev

pytestmark = pytest.mark.stack

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(fixture: str, parent: Path) -> Path:
    root = parent / fixture
    shutil.copytree(FIXTURES / fixture, root)
    return root


def test_the_shop_passes_and_says_so_in_junit(open_tmp: Path) -> None:
    root = make_workspace(open_tmp)
    report = open_tmp / "report.xml"
    result = run_lcdev("test", "-w", str(root), "--seed", "7", "--junit", str(report),
                       timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed, 0 could not run" in result.stdout
    suites = ET.parse(report).getroot()
    cases = suites.findall(".//testcase")
    assert len(cases) > 30  # every operation of the four services and every subscription
    assert suites.findall(".//failure") == []
    assert suites.findall(".//error") == []
    assert not (root / ".lcdev" / "data").exists()  # the stack ran on a copy


def test_a_planted_server_error_fails_the_run_with_a_reproduction(open_tmp: Path) -> None:
    root = _copy("api_server_error", open_tmp)
    result = run_lcdev("test", "-w", str(root), "--seed", "3", timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "labels: POST /labels/prints" in result.stdout
    assert "not_a_server_error" in result.stdout
    assert "curl " in result.stdout
    assert "lcdev trace " in result.stdout


def test_a_consumer_that_disagrees_with_its_producer_fails_the_run(open_tmp: Path) -> None:
    root = _copy("events_mismatch", open_tmp)
    result = run_lcdev("test", "-w", str(root), "--only", "events", "--seed", "3", "--json",
                       timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    failed = {f["name"] for f in findings if f["outcome"] == "failed"}
    assert failed == {"billing.InvoicePaid -> ledger"}
    assert any(f["where"].startswith("services/ledger/service.yaml:") for f in findings
               if f["outcome"] == "failed")
    assert any(f["name"] == "billing.InvoiceVoided -> ledger" and f["outcome"] == "passed"
               for f in findings)
