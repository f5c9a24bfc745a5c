"""Benchmark: generated CRUD vs a hand-written starlette + asyncpg app, the gateway's overhead,
and event latency from POST to the consumer's committed effect.

Everything runs on this machine, side by side in one run: a bench workspace (service `items`
with one entity, service `audit` consuming its events) is brought up with `lcdev up -d`; the
hand-written app serves the same table with the same queries on the same database. Load comes
from `wrk` (installed with apt when missing) — 2 threads, 32 connections, several short runs,
medians reported with the ratio to the peer.

Telemetry is as `lcdev up` sets it: the services and the gateway export spans to the
supervisor's OTLP receiver, which stores them (the realistic "telemetry on"). BENCH_TELEMETRY
changes that for the stack's processes: `off` (LCDEV_TELEMETRY=off: no spans at all), `json`
(LCDEV_OTLP_ENCODING=json: spans as OTLP/JSON through lcdev's cheap exporter), `protobuf`
(the standard OTLP/HTTP protobuf exporter), default = whatever the supervisor chooses.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "4"))
TELEMETRY = os.environ.get("BENCH_TELEMETRY", "")
TELEMETRY_ENV = {"off": {"LCDEV_TELEMETRY": "off"}, "json": {"LCDEV_OTLP_ENCODING": "json"},
                 "protobuf": {"LCDEV_OTLP_ENCODING": "protobuf"}, "": {}}[TELEMETRY]
ENV = {**os.environ, "NO_COLOR": "1", **TELEMETRY_ENV}
HERE = Path(__file__).resolve().parent

ITEMS = """\
name: items
version: 1.0.0
entities:
  Item:
    fields:
      name: string(80)!
      price: decimal(10, 2)!
      qty: integer!
  Ping:
    fields:
      name: string(80)!
publishes:
  PingCreated:
    entity: Ping
    when: created
    key: ping_id
    map: {ping_id: id}
    payload:
      ping_id: uuid!
      name: string!
"""

AUDIT = """\
name: audit
version: 1.0.0
entities:
  Entry:
    fields:
      item_id: uuid!
      name: string(80)!
consumes:
  - event: PingCreated
    from: items
    action: insert
    entity: Entry
    map: {item_id: ping_id, name: name}
"""


def lcdev(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "lcdev", *args], capture_output=True,
                            text=True, env=ENV, timeout=180)
    if result.returncode != 0:
        raise SystemExit(f"lcdev {' '.join(args)} failed:\n{result.stderr}")
    return result


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       capture_output=True)
        found = shutil.which("wrk")
    assert found is not None, "wrk is needed (apt-get install wrk)"
    return found


POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name": "bench", "price": "9.99", "qty": 7}'
"""


def wrk(url: str, script: Path | None = None, connections: int = 32) -> tuple[float, float]:
    """(requests/s, p50 latency ms) of one run."""
    threads = min(2, connections)
    args = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--latency", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=SECONDS + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    assert p50 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return rps, float(p50.group(1)) * scale


def median_of(url: str, script: Path | None = None, connections: int = 32
              ) -> tuple[float, float]:
    runs = [wrk(url, script, connections) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def start_peer(dsn: str, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "peer_app.py"), dsn, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the hand-written peer app did not start")


async def event_latencies(gateway: str, dsn: str, count: int = 200) -> list[float]:
    """ms from sending the POST to the consumer's committed row being visible."""
    conn = await asyncpg.connect(dsn)
    latencies = []
    async with httpx.AsyncClient(base_url=gateway) as client:
        for i in range(count):
            started = time.perf_counter()
            response = await client.post("/items/pings", json={"name": f"e{i}"})
            item_id = uuid.UUID(response.json()["id"])
            while not await conn.fetchval(
                'SELECT 1 FROM audit."entry" WHERE item_id = $1', item_id
            ):
                await asyncio.sleep(0.0005)
            latencies.append((time.perf_counter() - started) * 1000)
    await conn.close()
    return latencies


def main() -> None:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-bench-rt-"))
    parent.chmod(0o755)
    root = parent / "bench"
    peer = None
    try:
        lcdev("init", str(root), "--template", "blank", "--gateway-port", "0",
              "--postgres-port", "0", "--kafka-port", "0")
        for name, text in (("items", ITEMS), ("audit", AUDIT)):
            (root / "services" / name).mkdir(parents=True)
            (root / "services" / name / "service.yaml").write_text(text)
        lcdev("up", "-d", "-w", str(root))
        status = json.loads(lcdev("status", "--json", "-w", str(root)).stdout)
        components = {c["name"]: c for c in status["components"]}
        dsn = components["postgres"]["url"]
        direct = f"http://127.0.0.1:{components['items']['port']}"
        gateway = status["gateway_url"]
        peer_port = int(os.environ.get("BENCH_PEER_PORT", "18931"))
        peer = start_peer(dsn, peer_port)
        peer_url = f"http://127.0.0.1:{peer_port}"
        item = httpx.post(f"{direct}/items/items",
                          json={"name": "x", "price": "1.50", "qty": 3}).json()["id"]
        for _ in range(200):
            httpx.post(f"{direct}/items/items", json={"name": "y", "price": "2.00", "qty": 9})
        post = parent / "post.lua"
        post.write_text(POST_LUA)
        print(f"wrk -t2 -c32 -d{SECONDS}s, median of {RUNS} runs; peer = hand-written "
              "starlette + asyncpg, same queries, same database; "
              f"telemetry: {TELEMETRY or 'as lcdev up sets it'}")
        print(f"{'':26}{'lcdev req/s':>12}{'peer req/s':>12}{'ratio':>8}"
              f"{'lcdev p50':>11}{'peer p50':>10}")
        cases = [
            ("get by id", f"/items/items/{item}", f"/items/{item}", None),
            ("filtered list", "/items/items?qty[gte]=5&limit=20", "/items?min_qty=5", None),
            ("create", "/items/items", "/items", post),
        ]
        for label, ours, theirs, script in cases:
            rps, p50 = median_of(direct + ours, script)
            peer_rps, peer_p50 = median_of(peer_url + theirs, script)
            print(f"{label:26}{rps:>12.0f}{peer_rps:>12.0f}{rps / peer_rps:>8.2f}"
                  f"{p50:>9.2f}ms{peer_p50:>8.2f}ms")
        via, via_p50 = median_of(f"{gateway}/items/items/{item}")
        rps, p50 = median_of(f"{direct}/items/items/{item}")
        print(f"{'get by id via gateway':26}{via:>12.0f}{rps:>12.0f}{via / rps:>8.2f}"
              f"{via_p50:>9.2f}ms{p50:>8.2f}ms   (peer column: direct)")
        _, one_via = median_of(f"{gateway}/items/items/{item}", connections=1)
        _, one_direct = median_of(f"{direct}/items/items/{item}", connections=1)
        print(f"gateway overhead: +{one_via - one_direct:.2f} ms at p50 with one connection "
              f"({one_via:.2f} vs {one_direct:.2f} ms), +{via_p50 - p50:.2f} ms at 32; "
              f"throughput {via / rps:.2f}× direct (targets: ≤ 1 ms, ≥ 0.8×)")
        latencies = sorted(asyncio.run(event_latencies(gateway, dsn)))
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"event end to end (POST → outbox → Kafka → consumer committed), "
              f"{len(latencies)} events: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
              "(targets: < 20 ms, < 100 ms)")
        after = json.loads(lcdev("status", "--json", "-w", str(root)).stdout)
        print(f"telemetry store: {json.dumps(after.get('telemetry'))}")
    finally:
        if peer is not None:
            peer.kill()
        subprocess.run([sys.executable, "-m", "lcdev", "down", "-v", "-w", str(root)],
                       capture_output=True, env=ENV)
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
