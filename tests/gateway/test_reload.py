"""Live reconfiguration, and the gateway as the process the supervisor runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from lcdev.gateway.config import write_config
from tests.gateway.conftest import GatewayFactory, Upstream, free_port, route


def _hammer(url: str, stop: threading.Event, statuses: list[int]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            statuses.append(client.get("/orders/steady").status_code)


def test_config_changes_apply_while_requests_flow(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    config: dict[str, Any] = {"routes": [route("orders", "/orders", upstream.url)]}
    gateway = start_gateway(config)
    stop = threading.Event()
    statuses: list[int] = []
    workers = [threading.Thread(target=_hammer, args=(gateway.url, stop, statuses))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            assert client.get("/payments/1").status_code == 404
            for step in range(5):
                upstream_of_payments = upstream.url if step % 2 == 0 else None
                write_config(gateway.config_path, {"routes": [
                    *config["routes"], route("payments", "/payments", upstream_of_payments)]})
                expected = 200 if upstream_of_payments else 503
                deadline = time.monotonic() + 3
                while client.get("/payments/1").status_code != expected:
                    assert time.monotonic() < deadline, f"step {step} was not applied"
                    time.sleep(0.02)
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
    assert len(statuses) > 20
    assert set(statuses) == {200}  # no request of the steady route failed meanwhile
    assert len(gateway.lines("config_reloaded")) >= 5


def test_an_invalid_config_is_reported_and_the_old_one_kept(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    gateway = start_gateway({"routes": [route("orders", "/orders", upstream.url)]})
    gateway.config_path.write_text('{"routes": [{"service": "x", "prefix": 3}]')
    line = gateway.wait_line(lambda line: True, kind="config_error")
    assert "is not a valid gateway configuration" in line["error"]
    assert "keeping the running configuration" in line["error"]
    gateway.write_config({"routes": [{"service": "x", "prefix": "/x", "upstream": "ftp://x"}]})
    gateway.wait_line(lambda line: "upstream must look like" in line["error"],
                      kind="config_error")
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        assert client.get("/orders/1").status_code == 200


def test_write_config_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "run" / "gateway.json"
    write_config(path, {"routes": []})
    assert json.loads(path.read_text()) == {"routes": []}
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["gateway.json"]


def _read_lines(stream: Any, into: list[dict[str, Any]]) -> None:
    for raw in stream:
        into.append(json.loads(raw))


def test_the_gateway_process_serves_reloads_on_sighup_and_stops_on_sigterm(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = tmp_path / "gateway.json"
    write_config(config, {"routes": [route("orders", "/orders", upstream.url)]})
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lcdev.gateway", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                assert httpx.get(f"{url}/_lcdev/health").json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.05)
        response = httpx.get(f"{url}/orders/1", headers={"x-request-id": "proc-1"})
        assert response.status_code == 200
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not any(line["kind"] == "config_reloaded" for line in lines):
            assert time.monotonic() < deadline, f"no reload on SIGHUP: {lines}"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()
    kinds = [line["kind"] for line in lines]
    assert kinds[0] == "started"
    assert kinds[-1] == "stopped"
    assert any(line.get("request_id") == "proc-1" and line["status"] == 200 for line in lines)


def test_the_process_refuses_a_bad_config_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "gateway.json"
    config.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "lcdev.gateway", "--port", str(free_port()),
         "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.startswith("lcdev gateway: ")
    assert "Invalid JSON" in result.stderr


def test_a_request_in_flight_finishes_after_its_route_is_removed(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    gateway = start_gateway({"routes": [route("orders", "/orders", upstream.url)]})
    result: list[httpx.Response] = []
    slow = threading.Thread(target=lambda: result.append(
        httpx.get(f"{gateway.url}/orders/slow?s=0.6", timeout=10)))
    slow.start()
    time.sleep(0.2)
    write_config(gateway.config_path, {"routes": []})
    gateway.wait_line(lambda line: line["routes"] == 0, kind="config_reloaded")
    assert httpx.get(f"{gateway.url}/orders/1").status_code == 404  # new requests: gone
    slow.join(10)
    assert result[0].status_code == 200
    assert result[0].json() == {"slow": True}
