"""Benchmark: `lcdev up -d` until every component is healthy, for the shop workspace.

Cold runs start from no data dir (initdb included); warm runs reuse the data dir. Each figure
is the median of several runs: the wall time of the `up -d` command as a user feels it, and the
time the supervisor itself reports from its start to all-healthy.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LCDEV = [sys.executable, "-m", "lcdev"]
ENV = {**os.environ, "NO_COLOR": "1"}


def lcdev(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*LCDEV, *args], capture_output=True, text=True, env=ENV, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"lcdev {' '.join(args)} failed:\n{result.stderr}")
    return result


def one_up(root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    result = lcdev("up", "-d", "-w", str(root))
    wall = time.perf_counter() - started
    match = re.search(r"stack ready in ([\d.]+)s", result.stderr)
    reported = float(match.group(1)) if match else float("nan")
    return wall, reported


def series(root: Path, cold: bool) -> tuple[list[float], list[float]]:
    walls, reported = [], []
    for _ in range(RUNS):
        lcdev("down", *(["-v"] if cold else []), "-w", str(root))
        wall, rep = one_up(root)
        walls.append(wall)
        reported.append(rep)
    lcdev("down", "-w", str(root))
    return walls, reported


def main() -> None:
    parent = Path(tempfile.mkdtemp(prefix="lcdev-bench-"))
    parent.chmod(0o755)
    root = parent / "shop"
    try:
        lcdev("init", str(root), "--template", "shop", "--gateway-port", "0",
              "--postgres-port", "0", "--kafka-port", "0")
        lcdev("up", "-d", "-w", str(root))  # warm the OS caches once; not counted
        print(f"lcdev up -d → all healthy, shop workspace, native backend, {RUNS} runs each")
        header = f"{'command wall (median)':>24}{'supervisor (median)':>22}{'min':>8}{'max':>8}"
        print(f"{'':14}{header}")
        config = root / "lcdev.yaml"
        traced = config.read_text()
        for label, cold, telemetry in (("warm data dir", False, True),
                                       ("cold (no data)", True, True),
                                       ("warm, no OTel", False, False)):
            # the last row: telemetry.enabled false (logs are still stored), for comparison
            config.write_text(traced if telemetry else traced + "telemetry: {enabled: false}\n")
            walls, reported = series(root, cold)
            print(f"{label:14}{statistics.median(walls):>22.3f} s"
                  f"{statistics.median(reported):>20.3f} s"
                  f"{min(walls):>7.2f}s{max(walls):>7.2f}s")
        print("targets (DESIGN.md): warm < 1.5 s, cold < 3 s")
    finally:
        subprocess.run([*LCDEV, "down", "-v", "-w", str(root)], capture_output=True, env=ENV)
        shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
