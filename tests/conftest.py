"""Shared fixtures: workspaces in world-traversable temp folders, and running the real CLI.

PostgreSQL runs as an unprivileged user when the tests run as root, so workspaces live in
folders that user can enter (pytest's own tmp_path is private to root).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.otel import span_exporter

REPO = Path(__file__).resolve().parent.parent


def run_lcdev(*args: str, cwd: Path | None = None, timeout: float = 90,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``lcdev`` as a user would (a real process), with colours off."""
    return subprocess.run(
        [sys.executable, "-m", "lcdev", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )


def status_json(root: Path) -> dict[str, Any]:
    result = run_lcdev("status", "--json", "-w", str(root))
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp folder any user can enter."""
    path = Path(tempfile.mkdtemp(prefix="lcdev-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_workspace(parent: Path, template: str = "shop", name: str = "shop") -> Path:
    root = parent / name
    result = run_lcdev("init", str(root), "--template", template, "--gateway-port", "0",
                       "--postgres-port", "0", "--kafka-port", "0")
    assert result.returncode == 0, result.stderr
    return root


@contextlib.contextmanager
def running_shop_stack(prefix: str) -> Iterator[dict[str, Any]]:
    """``lcdev up -d`` of a fresh shop workspace, with an httpx client that carries a dev
    token; ``down -v`` afterwards. Yields ``root``, ``client`` and ``status``."""
    import httpx

    parent = Path(tempfile.mkdtemp(prefix=prefix))
    parent.chmod(0o755)
    root = make_workspace(parent)
    result = run_lcdev("up", "-d", "-w", str(root), timeout=120)
    assert result.returncode == 0, result.stderr
    token = run_lcdev("token", "-w", str(root)).stdout.strip()
    status = status_json(root)
    client = httpx.Client(base_url=status["gateway_url"], timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    try:
        yield {"root": root, "client": client, "status": status}
    finally:
        client.close()
        run_lcdev("down", "-v", "-w", str(root))
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def shop(open_tmp: Path) -> Iterator[Path]:
    """A shop workspace on free ports; whatever a test leaves running is stopped after it."""
    root = make_workspace(open_tmp)
    yield root
    run_lcdev("down", "-w", str(root))


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A real PostgreSQL (``postgresql://lcdev@127.0.0.1:PORT/lcdev``) for the whole session.
    Tests isolate themselves by using their own Postgres schema / service names."""
    from tests.infra import running_component

    with running_component("postgres") as (url, _restart):
        yield url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real tansu broker (``127.0.0.1:PORT``) for the whole session. Use unique topic names."""
    from tests.infra import running_component

    with running_component("kafka") as (url, _restart):
        yield url.removeprefix("kafka://")


@pytest.fixture
def restartable_kafka() -> Iterator[tuple[str, Callable[[], None]]]:
    """A broker of the test's own, with a ``restart()`` that loses everything (tansu keeps
    data in memory), for broker-restart tests."""
    from tests.infra import running_component

    with running_component("kafka") as (url, restart):
        yield url.removeprefix("kafka://"), restart


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Finished spans of the code under test (in this process), cleared before each test."""
    exporter = span_exporter()
    exporter.clear()
    yield exporter
    exporter.clear()
