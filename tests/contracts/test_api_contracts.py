"""API contracts (``run_api_checks``) against real stacks: the shop, and fixture workspaces
with one planted defect each (tests/contracts/fixtures/api_*): a handler that answers 500 for
an empty text, and a handler that answers a list where its OpenAPI document promises an
object. The target is built the way a user's tooling would: ``lcdev status --json`` and
``lcdev token`` of a stack started with ``lcdev up -d``."""

from __future__ import annotations

import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcdev.contracts.api import run_api_checks
from lcdev.contracts.findings import Finding, exit_code
from lcdev.contracts.stack import ContractTarget
from lcdev.definitions import load_workspace
from tests.conftest import run_lcdev, running_shop_stack, status_json

FIXTURES = Path(__file__).parent / "fixtures"
DEFECTIVE = "labels: POST /labels/prints"
TRACE_ID = re.compile(r"[0-9a-f]{32}")


def _target(root: Path) -> ContractTarget:
    status = status_json(root)
    token = run_lcdev("token", "-w", str(root)).stdout.strip()
    urls = {c["name"]: c["url"] for c in status["components"]}
    lowcode = [s["name"] for s in status["services"] if s["kind"] == "lowcode"]
    return ContractTarget(
        root=root, loaded=load_workspace(root), gateway_url=status["gateway_url"],
        token=token or None, dsn=urls["postgres"],
        bootstrap=urls["kafka"].removeprefix("kafka://"),
        services={name: urls[name] for name in lowcode})


def _fixture_stack(name: str) -> Iterator[ContractTarget]:
    parent = Path(tempfile.mkdtemp(prefix=f"lcdev-{name}-"))
    parent.chmod(0o755)
    root = parent / name
    shutil.copytree(FIXTURES / name, root,
                    ignore=shutil.ignore_patterns("__pycache__", ".lcdev"))
    for path in (root, *root.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        result = run_lcdev("up", "-d", "-w", str(root), timeout=120)
        assert result.returncode == 0, result.stderr
        yield _target(root)
    finally:
        run_lcdev("down", "-v", "-w", str(root))
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def server_error() -> Iterator[ContractTarget]:
    yield from _fixture_stack("api_server_error")


@pytest.fixture(scope="module")
def schema_break() -> Iterator[ContractTarget]:
    yield from _fixture_stack("api_schema_break")


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _failed(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.outcome == "failed"]


def test_the_shop_passes_every_api_contract() -> None:
    with running_shop_stack("lcdev-api-shop-") as shop:
        findings = run_api_checks(_target(shop["root"]), seed=7, max_examples=10)

    assert [f.name for f in findings if f.outcome in ("failed", "error")] == []
    for service in ("inventory", "notifications", "orders", "payments"):
        assert any(f.service == service and f.outcome == "passed" for f in findings), service
    assert "orders: POST /orders/orders" in {f.name for f in findings}
    assert all(f.check == "api" and f.details["seed"] == 7 for f in findings)
    assert exit_code(findings, ("api",)) == 0


def test_a_server_error_on_an_edge_input_fails_exactly_that_operation(
        server_error: ContractTarget) -> None:
    findings = run_api_checks(server_error, seed=11, max_examples=10)

    failed = _failed(findings)
    assert [f.name for f in failed] == [DEFECTIVE]
    [finding] = failed
    assert finding.details["check"] == "not_a_server_error"
    assert finding.details["seed"] == 11
    assert "not_a_server_error" in finding.message
    assert "500" in finding.message
    assert TRACE_ID.fullmatch(finding.trace_id)
    assert any(f.outcome == "passed" for f in findings)
    assert exit_code(findings, ("api",)) == 1
    # the reproduction is a real command: run it, and the service fails again
    command = shlex.split(finding.reproduce)
    assert command[0] == "curl"
    answer = subprocess.run([*command, "-s", "-o", "/dev/null", "-w", "%{http_code}"],
                            capture_output=True, text=True, timeout=10, check=False)
    assert answer.stdout == "500"


def test_the_same_seed_finds_the_same_failing_case(server_error: ContractTarget) -> None:
    runs = [run_api_checks(server_error, seed=5, max_examples=10, stateful=False)
            for _ in range(2)]

    reproduced = [[f.reproduce for f in _failed(findings)] for findings in runs]
    assert reproduced[0] == reproduced[1]
    assert len(reproduced[0]) == 1


def test_a_response_breaking_its_schema_fails_exactly_that_operation(
        schema_break: ContractTarget) -> None:
    findings = run_api_checks(schema_break, seed=3, max_examples=10)

    failed = _failed(findings)
    assert [f.name for f in failed] == [DEFECTIVE]
    assert failed[0].details["check"] == "response_schema_conformance"
    assert "object" in failed[0].message
    assert failed[0].reproduce.startswith("curl ")


def test_an_unreachable_service_is_an_error_never_a_pass() -> None:
    root = FIXTURES / "api_server_error"
    port = _closed_port()
    target = ContractTarget(root=root, loaded=load_workspace(root),
                            gateway_url=f"http://127.0.0.1:{port}", token=None, dsn="",
                            bootstrap="", services={"labels": f"http://127.0.0.1:{port}"})
    findings = run_api_checks(target, seed=1)

    assert [(f.name, f.outcome) for f in findings] == [("labels: API", "error")]
    assert "could not be loaded" in findings[0].message
    assert exit_code(findings, ("api",)) == 2


def test_a_service_that_is_not_running_is_an_error(server_error: ContractTarget) -> None:
    findings = run_api_checks(server_error, services=["payments"], seed=1)

    assert [(f.name, f.outcome) for f in findings] == [("payments: API", "error")]
