"""A service process as the supervisor starts it (``python -m lcdev.runtime`` with
``LCDEV_CONTROL_TOKEN``): reloaded over HTTP by the token's holder only, and one ``reloaded``
JSON line per reload in its output."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import REPO
from tests.runtime.reload.workspace import TOKEN, Workspace, drop_schema, notes_yaml


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_process_reloads_for_the_token_holder_and_logs_each_reload(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "lcdev.runtime", "--workspace", str(ws.root), "--service",
         ws.name, "--port", str(port), "--dsn", pg_dsn, "--kafka", kafka_bootstrap],
        cwd=REPO, env={**env, "LCDEV_CONTROL_TOKEN": TOKEN},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            health = f"{ws.base}/_lcdev/health"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get(health).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the service did not get healthy"
                time.sleep(0.05)
            assert client.post("/_lcdev/reload", json={}).status_code == 403
            ws.write_service(notes_yaml(ws.name, version="1.2.0"))
            answer = client.post("/_lcdev/reload", json={"force": False},
                                 headers={"x-lcdev-token": TOKEN}).json()
            assert answer["outcome"] == "reloaded"
            assert client.get(health).json()["version"] == "1.2.0"
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        asyncio.run(drop_schema(pg_dsn, ws.name))
    assert process.returncode == 0, err.decode()
    printed: list[dict[str, Any]] = [orjson.loads(line) for line in out.decode().splitlines()]
    [reloaded] = [line for line in printed if line["msg"] == "reloaded"]
    assert (reloaded["level"], reloaded["outcome"]) == ("info", "reloaded")
    assert (reloaded["version_before"], reloaded["version"]) == ("1.0.0", "1.2.0")
    assert set(reloaded["timings_ms"]) == {"load", "migrate", "build", "total"}
