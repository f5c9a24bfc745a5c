"""Benchmark: edit-to-serving latency of hot reload, lcdev vs `uvicorn --reload`.

For each edit the clock starts just before the file is saved and stops at the first response
that shows the change, polled as fast as a keep-alive connection answers (~1 ms):

- lcdev, version bump: `version:` of the orders service changes; polled through the gateway
  on `/orders/_lcdev/health` until it reports the new version (routes, handlers, OpenAPI and
  AsyncAPI are rebuilt and swapped in the running process);
- lcdev, field added: a new optional field on Order (an additive migration, Alembic's
  comparison included); polled on `GET /orders/orders?limit=1` until rows carry the field;
- peer: a hand-written starlette app under `uvicorn --reload` (watchfiles), the constant it
  returns edited; polled until it answers the new value.

Prints p50/p95 over BENCH_EDITS edits each (default 20) and the ratio to the peer.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EDITS = int(os.environ.get("BENCH_EDITS", "20"))
LCDEV = [sys.executable, "-m", "lcdev"]
ENV = {**os.environ, "NO_COLOR": "1"}
TIMEOUT_S = 10.0


def lcdev(*args: str) -> str:
    result = subprocess.run([*LCDEV, *args], capture_output=True, text=True, env=ENV, timeout=180)
    if result.returncode != 0:
        raise SystemExit(f"lcdev {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


class Poller:
    """GETs one path, on a fresh connection each time (a keep-alive request that reaches a
    uvicorn worker while it shuts down for a reload waits forever), until ``shows(body)``."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port, self.headers = host, port, headers

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", path, headers={**self.headers, "connection": "close"})
            response = conn.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.HTTPException, OSError):
            time.sleep(0.001)
            return 0, b""
        finally:
            conn.close()

    def post(self, path: str, body: bytes) -> int:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request("POST", path, body=body, headers={
                **self.headers, "content-type": "application/json"})
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    def until(self, path: str, shows: Callable[[bytes], bool], started: float) -> float:
        while time.perf_counter() - started < TIMEOUT_S:
            status, body = self.get(path)
            if status == 200 and shows(body):
                return time.perf_counter() - started
        raise SystemExit(f"the change never showed on {path} within {TIMEOUT_S} s")


def _save(path: Path, text: str) -> float:
    started = time.perf_counter()
    path.write_text(text)
    return started


def bench_lcdev() -> tuple[list[float], list[float], list[float]]:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-bench-reload-"))
    parent.chmod(0o755)
    root = parent / "shop"
    lcdev("init", str(root), "--template", "shop", "--gateway-port", "0",
          "--postgres-port", "0", "--kafka-port", "0")
    try:
        lcdev("up", "-d", "-w", str(root))
        status = json.loads(lcdev("status", "--json", "-w", str(root)))
        token = lcdev("token", "-w", str(root)).strip()
        host, port = status["gateway_url"].removeprefix("http://").split(":")
        poller = Poller(host, int(port), {"Authorization": f"Bearer {token}"})
        definition = root / "services" / "orders" / "service.yaml"
        versions, fields = [], []
        text = definition.read_text()
        for n in range(EDITS):
            version = f"1.0.{n + 1}"
            text = re.sub(r"^version: .*$", f"version: {version}", text, count=1,
                          flags=re.MULTILINE)
            started = _save(definition, text)
            versions.append(poller.until("/orders/_lcdev/health",
                                         lambda b, v=version: f'"{v}"'.encode() in b, started))
            time.sleep(0.05)
        body = json.dumps({"customer_id": "00000000-0000-4000-8000-000000000001",
                           "lines": [{"sku": "SKU-1", "quantity": 1}]}).encode()
        if poller.post("/orders/orders", body) != 201:
            raise SystemExit("could not create the order the field edits are read on")
        for n in range(EDITS):
            name = f"extra_{n}"
            text = text.replace("      reason: text\n", f"      reason: text\n      {name}: text\n")
            started = _save(definition, text)
            fields.append(poller.until("/orders/orders?limit=1",
                                       lambda b, f=name: f'"{f}"'.encode() in b, started))
            time.sleep(0.05)
        history = root / ".lcdev" / "telemetry" / "reloads.ndjson"
        entries = [json.loads(line) for line in history.read_text().splitlines()
                   if '"ServiceReloaded"' in line]
        _breakdown("version bump", entries[:EDITS])
        _breakdown("field added", entries[EDITS:])
        return versions, fields, [entry["seconds"] for entry in entries]
    finally:
        subprocess.run([*LCDEV, "down", "-v", "-w", str(root)], capture_output=True, env=ENV)
        shutil.rmtree(parent, ignore_errors=True)


def _breakdown(label: str, entries: list[dict[str, Any]]) -> None:
    """Medians of the steps lcdev reports for each reload (timings_ms in reloads.ndjson)."""
    keys = sorted({key for entry in entries for key in entry["timings_ms"]})
    medians = {key: statistics.median(float(e["timings_ms"].get(key, 0.0)) for e in entries)
               for key in keys}
    print(f"lcdev {label}, steps (median ms): "
          + ", ".join(f"{key} {value:.1f}" for key, value in medians.items()))


PEER_APP = '''from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

VALUE = "{value}"


async def health(request):
    return JSONResponse({{"value": VALUE}})

app = Starlette(routes=[Route("/health", health)])
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def bench_uvicorn() -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="lcdev-bench-uvicorn-"))
    app = folder / "peer.py"
    app.write_text(PEER_APP.format(value="v0"))
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "peer:app", "--reload", "--port", str(port),
         "--log-level", "warning"], cwd=folder, env=ENV,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poller = Poller("127.0.0.1", port, {})
        poller.until("/health", lambda b: b'"v0"' in b, time.perf_counter())
        time.sleep(1.0)  # uvicorn's reloader starts watching a moment after the app serves
        times = []
        for n in range(EDITS):
            value = f"v{n + 1}"
            started = _save(app, PEER_APP.format(value=value))
            times.append(poller.until("/health", lambda b, v=value: f'"{v}"'.encode() in b,
                                      started))
            time.sleep(0.3)  # let the reloader settle, as a user between saves would
        return times
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> None:
    versions, fields, reported = bench_lcdev()
    peer = bench_uvicorn()
    peer_p50 = statistics.median(peer) * 1000
    print(f"\nhot reload: save → first response showing the change ({EDITS} edits each)")
    print(f"{'':34}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'vs peer p50':>13}")
    rows = [("lcdev, version bump (gateway)", versions), ("lcdev, field added (migration)",
            fields), ("uvicorn --reload (peer)", peer)]
    for label, values in rows:
        p50 = statistics.median(values) * 1000
        print(f"{label:34}{p50:9.1f}{_p(values, 0.95):9.1f}{max(values) * 1000:9.1f}"
              f"{peer_p50 / p50:12.1f}×")
    if reported:
        print(f"lcdev's own report (save → swapped, from reloads.ndjson): p50"
              f" {statistics.median(reported) * 1000:.1f} ms, p95 {_p(reported, 0.95):.1f} ms")
    print("target: p95 < 150 ms and ≥ 5× faster than uvicorn --reload")


if __name__ == "__main__":
    main()
