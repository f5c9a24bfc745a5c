"""Start-up failures: each gets a clear message, a non-zero exit, and leaves nothing behind."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import make_workspace, run_lcdev

pytestmark = pytest.mark.stack


def _nothing_left(root: Path) -> None:
    run_dir = root / ".lcdev" / "run"
    assert not (run_dir / "supervisor.json").exists()
    assert not (run_dir / "children.json").exists()
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue  # exited; only its parent has not collected the exit code yet
        cmdline = " ".join(process.info["cmdline"] or [])
        assert str(root) not in cmdline, f"left running: {cmdline}"


def _set_port(root: Path, component: str, port: int) -> None:
    text = (root / "lcdev.yaml").read_text()
    (root / "lcdev.yaml").write_text(text.replace(f"{component}: 0", f"{component}: {port}"))


def test_port_in_use_is_named_with_its_setting(shop: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        _set_port(shop, "postgres", port)
        result = run_lcdev("up", "-d", "-w", str(shop))
    assert result.returncode == 1
    assert f"port {port} for postgres is already in use" in result.stderr
    assert "ports.postgres" in result.stderr
    _nothing_left(shop)


def test_missing_broker_binary_stops_what_started(shop: Path) -> None:
    result = run_lcdev("up", "-d", "-w", str(shop), env={"CALF_TANSU_BIN": "/nonexistent/tansu"})
    assert result.returncode == 1
    assert "kafka" in result.stderr
    assert "/nonexistent/tansu" in result.stderr
    _nothing_left(shop)


STACK_NEVER_READY = """\
components:
  slowpoke:
    port: 0
    readiness: {probe: tcp, timeout: 1s}
    native:
      driver: command
      command: [sh, -c, "echo booting slowly; sleep 60"]
"""


def test_component_never_ready_times_out_with_its_last_lines(open_tmp: Path) -> None:
    root = make_workspace(open_tmp, template="blank", name="slow")
    (root / "stacks").mkdir()
    (root / "stacks" / "slow.yaml").write_text(STACK_NEVER_READY)
    text = (root / "lcdev.yaml").read_text().replace("stack: default", "stack: slow")
    (root / "lcdev.yaml").write_text(text)
    started = time.monotonic()
    result = run_lcdev("up", "-d", "-w", str(root))
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert "slowpoke: not ready after 1s" in result.stderr
    assert "booting slowly" in result.stderr
    _nothing_left(root)


def test_invalid_definitions_start_nothing(shop: Path) -> None:
    service = shop / "services" / "orders" / "service.yaml"
    service.write_text(service.read_text() + "\nbogus_key: 1\n")
    result = run_lcdev("up", "-d", "-w", str(shop))
    assert result.returncode == 1
    assert "services/orders/service.yaml:" in result.stderr
    assert "bogus_key" in result.stderr
    assert not (shop / ".lcdev" / "data").exists()
    _nothing_left(shop)


def test_ctrl_c_in_the_foreground_stops_everything(shop: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "lcdev", "up", "-w", str(shop)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin:/usr/local/bin"},
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "streaming logs" in line:
            break
    assert any("stack ready" in line for line in seen), "".join(seen)
    process.send_signal(2)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0, rest
    assert "stopped" in rest
    _nothing_left(shop)
