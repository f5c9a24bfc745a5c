"""``lcdev traces`` against a real telemetry store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lcdev.cli.main import app
from lcdev.cli.views.style import clock, iso_time
from lcdev.cli.views.trace_table import services_text
from tests.cli.conftest import ENV, flat, lcdev
from tests.cli.telemetry_samples import (
    OTHER_TRACE,
    SLOW_TRACE,
    T0,
    TRACE,
    populate,
    workspace,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = workspace(tmp_path)
    populate(root)
    return root


def rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    assert lines[0].split() == ["TIME", "TRACE", "ROOT", "SERVICES", "SPANS", "DURATION",
                                "STATUS"]
    return [line.split() for line in lines[1:]]


def ids(stdout: str) -> list[str]:
    return [row[1] for row in rows(stdout)]


def test_without_a_store_says_to_run_up(tmp_path: Path) -> None:
    result = lcdev("traces", "-w", str(workspace(tmp_path)))
    assert result.exit_code == 1
    assert "no telemetry yet" in flat(result.stderr)


def test_recent_traces_newest_first_with_root_services_spans_duration_status(ws: Path) -> None:
    result = lcdev("traces", "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    assert rows(result.stdout) == [
        [clock(T0 + 2_000_000_000), SLOW_TRACE[:12], "GET", "/payments/payments", "payments",
         "1", "350.0", "ms", "ok", "200"],
        [clock(T0 + 1_000_000_000), OTHER_TRACE[:12], "GET", "/orders/orders/{id}", "gateway",
         "orders", "2", "3.00", "ms", "ok", "200"],
        # the request got its 201; a span further down the trace failed
        [clock(T0), TRACE[:12], "POST", "/orders/orders", "gateway", "orders", "payments", "7",
         "42.0", "ms", "ERROR", "201"],
    ]


def test_filters(ws: Path) -> None:
    assert ids(lcdev("traces", "--errors", "-w", str(ws)).stdout) == [TRACE[:12]]
    assert ids(lcdev("traces", "--slow", "100ms", "-w", str(ws)).stdout) == [SLOW_TRACE[:12]]
    assert ids(lcdev("traces", "--slow", "40", "-w", str(ws)).stdout) == [
        SLOW_TRACE[:12], TRACE[:12]]
    assert ids(lcdev("traces", "-s", "payments", "-w", str(ws)).stdout) == [
        SLOW_TRACE[:12], TRACE[:12]]
    assert ids(lcdev("traces", "--limit", "1", "-w", str(ws)).stdout) == [SLOW_TRACE[:12]]
    assert ids(lcdev("traces", "--since", iso_time(T0 + 500_000_000), "-w", str(ws)).stdout
               ) == [SLOW_TRACE[:12], OTHER_TRACE[:12]]


def test_nothing_matching_says_so(ws: Path) -> None:
    result = lcdev("traces", "--since", "1m", "-w", str(ws))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no traces match" in result.stderr


def test_a_bad_duration_is_a_usage_error(ws: Path) -> None:
    result = lcdev("traces", "--slow", "fast", "-w", str(ws))
    assert result.exit_code == 2
    assert "not a duration" in flat(result.stderr)


def test_json_lists_full_ids_and_numbers(ws: Path) -> None:
    result = lcdev("traces", "--json", "--errors", "-w", str(ws))
    assert json.loads(result.stdout) == [{
        "trace_id": TRACE, "start": iso_time(T0), "start_ns": T0, "duration_ms": 42.0,
        "root_service": "gateway", "root_name": "POST /orders/orders", "root_route": "/orders",
        "span_count": 7, "services": ["gateway", "orders", "payments"], "error": True,
        "status_code": 201}]


def test_a_narrow_terminal_drops_the_time_and_shortens_root_and_services(ws: Path) -> None:
    result = CliRunner(env={**ENV, "COLUMNS": "80"}).invoke(app, ["traces", "-w", str(ws)])
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[0].split()[:3] == ["TRACE", "ROOT", "SERVICES"]
    assert lines[3].split()[3:6] == ["gateway", "orders", "+1"]  # whole names, then a count
    assert "GET /orders/orders/…" in lines[2]


@pytest.mark.parametrize(("width", "shown"), [
    (40, "gateway inventory orders payments"), (24, "gateway inventory +2"),
    (12, "gateway +3"), (3, "gateway +3")])
def test_services_that_do_not_fit_become_a_count(width: int, shown: str) -> None:
    names = ("gateway", "inventory", "orders", "payments")
    assert services_text(names, width).plain == shown


def test_store_reads_another_telemetry_store(ws: Path, tmp_path: Path) -> None:
    """``--store`` reads a store kept elsewhere (``lcdev test`` keeps its runs' stores)."""
    kept = tmp_path / "kept" / "telemetry.db"
    kept.parent.mkdir()
    (ws / ".lcdev" / "telemetry" / "telemetry.db").rename(kept)
    assert lcdev("traces", "-w", str(ws)).exit_code == 1  # the workspace has none now
    result = lcdev("traces", "-w", str(ws), "--store", str(kept))
    assert result.exit_code == 0, result.stderr
    assert TRACE[:12] in ids(result.stdout)
    shown = lcdev("trace", TRACE[:12], "-w", str(ws), "--store", str(kept))
    assert shown.exit_code == 0, shown.stderr
    missing = lcdev("traces", "-w", str(ws), "--store", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1
    assert "no telemetry store at" in flat(missing.stderr)
