"""Gateway overhead: the same small JSON endpoint called directly and through the gateway.

    .venv/bin/python benchmarks/bench_gateway.py [--rounds 3] [--seconds 3] [--connections 32]

A starlette app on uvicorn (the kind of upstream lcdev runs) and the gateway each run as their
own process on free ports. Each round measures, alternating direct and gateway runs so load
from elsewhere hits both alike:
- throughput with ``--connections`` keep-alive connections (wrk, or an httpx loop without it),
- latency with one connection (p50, p99).
The medians of the rounds are printed with the targets: ≤ 1 ms p50 added, ≥ 0.8× throughput.
uvicorn parses with httptools when it is installed (it is a dependency of lcdev since the gateway
uses it too), else with h11, which costs the upstream about twice the CPU and so changes the
throughput ratio; the output says which.
"""

from __future__ import annotations

import argparse
import asyncio
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
from pathlib import Path

import httpx
import psutil

try:
    import httptools  # noqa: F401  (only to tell which parser uvicorn picks)

    UPSTREAM_PARSER = "httptools"
except ImportError:  # pragma: no cover
    UPSTREAM_PARSER = "h11"

UPSTREAM = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def item(request):
    return JSONResponse({"id": request.path_params["id"], "status": "paid", "total": "12.50"})
app = Starlette(routes=[Route("/orders/{id}", item)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""
PATH = "/orders/42"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, connections: int, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url],
        capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
              "requests": float(re.search(r"(\d+) requests in", out).group(1))}  # type: ignore[union-attr]
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        result[key] = _ms(re.search(rf"^\s+{label}\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors while benchmarking {url}:\n{out}")
    return result


async def _httpx_load(url: str, connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.get(url)
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code}")
                latencies.append((time.perf_counter() - start) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "requests": float(len(latencies)),
            "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[int(len(latencies) * 0.99)]}


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure(url: str, connections: int, seconds: float,
            processes: dict[str, int]) -> dict[str, float]:
    """Load ``url``; also the CPU µs per request each of ``processes`` spent meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    if shutil.which("wrk"):
        result = run_wrk(url, connections, seconds)
    else:
        result = asyncio.run(_httpx_load(url, connections, seconds))
    for name, pid in processes.items():
        spent = cpu_seconds(pid) - before[name]
        result[f"{name}_cpu_us"] = spent * 1e6 / result["requests"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args()
    upstream_port, gateway_port = free_port(), free_port()
    direct = f"http://127.0.0.1:{upstream_port}{PATH}"
    through = f"http://127.0.0.1:{gateway_port}{PATH}"
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "gateway.json"
        config.write_text(json.dumps({"workspace": "bench", "routes": [{
            "service": "orders", "prefix": "/orders",
            "upstream": f"http://127.0.0.1:{upstream_port}"}]}))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = [
            subprocess.Popen([sys.executable, "-c", UPSTREAM, str(upstream_port)], env=env),
            subprocess.Popen([sys.executable, "-m", "lcdev.gateway", "--port", str(gateway_port),
                              "--config", str(config)], stdout=subprocess.DEVNULL, env=env),
        ]
        try:
            wait_ready(direct, processes[0])
            wait_ready(through, processes[1])
            results: dict[str, list[dict[str, float]]] = {"direct": [], "gateway": []}
            pids = {"upstream": processes[0].pid, "gateway": processes[1].pid}
            for _ in range(args.rounds):
                for name, url in (("direct", direct), ("gateway", through)):
                    watched = pids if name == "gateway" else {"upstream": pids["upstream"]}
                    load = measure(url, args.connections, args.seconds, watched)
                    single = measure(url, 1, args.seconds / 2, {})
                    results[name].append({
                        "rps": load["rps"], "p50_ms": single["p50_ms"],
                        "p99_ms": single["p99_ms"], "upstream_cpu_us": load["upstream_cpu_us"],
                        "gateway_cpu_us": load.get("gateway_cpu_us", 0.0)})
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)
    report(results, args)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    med = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
           for name, runs in results.items()}
    ratio = med["gateway"]["rps"] / med["direct"]["rps"]
    added = med["gateway"]["p50_ms"] - med["direct"]["p50_ms"]
    tool = "wrk" if shutil.which("wrk") else "httpx"
    if args.json:
        print(json.dumps({**med, "throughput_ratio": ratio, "added_p50_ms": added, "tool": tool,
                          "upstream_parser": UPSTREAM_PARSER}))
        return
    print(f"{args.rounds} rounds × {args.seconds:g} s, {args.connections} connections ({tool});"
          f" uvicorn upstream parsing with {UPSTREAM_PARSER}")
    print(f"{'':8} {'req/s':>10} {'p50 ms (1 conn)':>16} {'p99 ms':>8}"
          f" {'CPU µs/req: upstream':>21} {'gateway':>8}")
    for name, v in med.items():
        gateway_cpu = f"{v['gateway_cpu_us']:8.0f}" if name == "gateway" else f"{'-':>8}"
        print(f"{name:8} {v['rps']:10.0f} {v['p50_ms']:16.3f} {v['p99_ms']:8.3f}"
              f" {v['upstream_cpu_us']:21.0f} {gateway_cpu}")
    print(f"throughput ratio {ratio:.2f}× (target ≥ 0.80) {'ok' if ratio >= 0.8 else 'MISSED'}")
    print(f"added p50 {added:.3f} ms (target ≤ 1 ms) {'ok' if added <= 1.0 else 'MISSED'}")
    busy = psutil.cpu_percent(interval=0.5)
    print(f"machine CPU busy now: {busy:.0f}% of {psutil.cpu_count()} cores (the throughput"
          " ratio needs a core each for upstream and gateway; CPU µs/req does not)")


if __name__ == "__main__":
    main()
