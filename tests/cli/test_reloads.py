"""``lcdev reloads``: the reload history read from ``.lcdev/telemetry/reloads.ndjson``, with no
supervisor running, and the table's pure parts."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

from lcdev.cli.views.reload_table import first_items, latency_summary, reload_table, took
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ReloadStarted,
    ServiceReloaded,
    WorkspaceReloaded,
)
from lcdev.core.layout import WorkspaceLayout
from tests.cli.conftest import flat, lcdev
from tests.cli.test_help import _heavy_modules_after

T0 = 1_795_372_800.0  # a fixed moment; rows show it in local time

HISTORY: list[Event] = [
    ServiceReloaded(at=T0, name="orders", version_before="1.0.0", version_after="1.1.0",
                    changes=["+ field Order.note", "+ GET /orders/{id}/history"],
                    seconds=0.042, timings_ms={"validate": 2.0, "total": 42.0}),
    ReloadFailed(at=T0 + 10, name="orders", reason="invalid",
                 message="the definitions have errors",
                 problems=["services/orders/service.yaml:12:5: unknown type 'strng'",
                           "services/orders/service.yaml:20:7: unknown field 'x'"]),
    ReloadFailed(at=T0 + 20, name="orders", reason="destructive",
                 message="the migration would lose data", problems=["drop column order.reason"],
                 hint="lcdev apply --allow-destructive orders"),
    ServiceReloaded(at=T0 + 30, name="payments", how="restarted", version_before="2.0.0",
                    version_after="2.0.0", paths=["services/payments/main.py"], seconds=0.81),
    ServiceReloaded(at=T0 + 40, name="billing", how="started", version_after="0.1.0",
                    seconds=0.9, paths=["services/billing/service.yaml"]),
    WorkspaceReloaded(at=T0 + 50, applied=["secrets: jwt_key"],
                      needs_up=["gateway.port 8800 → 8801 needs `lcdev up` again"],
                      seconds=0.012),
    ServiceReloaded(at=T0 + 60, name="inventory", how="stopped", version_before="1.0.0",
                    seconds=0.05),
]


def _write(root: Path, lines: list[str]) -> None:
    path = WorkspaceLayout(root).reloads_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def _record(root: Path, events: list[Event]) -> None:
    """The history as the supervisor appends it: one ``Event.to_dict()`` JSON per line."""
    _write(root, [json.dumps(event.to_dict()) for event in events])


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "lcdev.yaml").write_text("name: shop\n")
    return tmp_path


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def test_no_history_is_not_an_error(ws: Path) -> None:
    result = lcdev("reloads", "-w", str(ws))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert flat(result.stderr) == (
        "no reloads yet: they are listed here once a definition is saved while the stack runs")
    json_result = lcdev("reloads", "--json", "-w", str(ws))
    assert (json_result.exit_code, json.loads(json_result.stdout)) == (0, [])


def test_the_history_as_a_table_with_outcomes_versions_durations_and_changes(ws: Path) -> None:
    _record(ws, HISTORY)
    result = lcdev("reloads", "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["TIME", "SERVICE", "OUTCOME", "VERSION", "TOOK", "WHAT",
                                "CHANGED"]
    assert [flat(line) for line in lines[1:8]] == [
        f"{_clock(T0)} orders reloaded 1.0.0 → 1.1.0 42 ms "
        "+ field Order.note, + GET /orders/{id}/history",
        f"{_clock(T0 + 10)} orders invalid - "
        "services/orders/service.yaml:12:5: unknown type 'strng' (+1 more)",
        f"{_clock(T0 + 20)} orders destructive - drop column order.reason",
        f"{_clock(T0 + 30)} payments restarted 2.0.0 810 ms services/payments/main.py",
        f"{_clock(T0 + 40)} billing started 0.1.0 900 ms services/billing/service.yaml",
        f"{_clock(T0 + 50)} workspace needs up 12 ms "
        "secrets: jwt_key; gateway.port 8800 → 8801 needs `lcdev up` again",
        f"{_clock(T0 + 60)} inventory stopped 1.0.0 50 ms",
    ]
    # swapped and restarted services only: starting or stopping one is not a reload of it
    assert lines[-1] == "p50 42 ms, p95 810 ms over 2 reloads, 2 failed"


def test_filter_by_service_and_keep_the_last(ws: Path) -> None:
    _record(ws, HISTORY)

    def services(*args: str) -> list[tuple[str, str]]:
        data = json.loads(lcdev("reloads", "--json", *args, "-w", str(ws)).stdout)
        return [(item.get("name", "workspace"), item["type"]) for item in data]

    assert services("-s", "orders") == [("orders", "ServiceReloaded"), ("orders", "ReloadFailed"),
                                        ("orders", "ReloadFailed")]
    assert services("--service", "orders", "-n", "1") == [("orders", "ReloadFailed")]
    assert services("-s", "workspace") == [("workspace", "WorkspaceReloaded")]
    assert services("--last", "2") == [("workspace", "WorkspaceReloaded"),
                                       ("inventory", "ServiceReloaded")]
    result = lcdev("reloads", "-s", "nope", "-w", str(ws))
    assert (result.exit_code, result.stdout, flat(result.stderr)) == (
        0, "", "no reloads of nope yet")


def test_json_is_the_list_of_event_dicts(ws: Path) -> None:
    _record(ws, HISTORY)
    result = lcdev("reloads", "--json", "-n", "3", "-w", str(ws))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [event.to_dict() for event in HISTORY[-3:]]


def test_unreadable_lines_are_skipped_and_counted(ws: Path) -> None:
    good = [json.dumps(event.to_dict()) for event in HISTORY[:2]]
    _write(ws, [
        good[0],
        '{"type": "ServiceReloaded", "name": "cut", "how": "swa',  # a crash mid-write
        "[1, 2]",
        '{"type": "SomethingNew", "name": "x"}',
        '{"type": "ServiceReloaded"}',  # no name
        '{"type": "ServiceReloaded", "name": "x", "changes": "+ field"}',  # not a list
        '{"type": "ServiceReloaded", "name": "x", "seconds": "fast"}',
        '{"type": "ReloadFailed", "name": "x", "reason": "invalid", "message": "m", '
        '"problems": [1]}',
        json.dumps(ReloadStarted(at=T0, services=["orders"]).to_dict()),  # not a reload: left out
        "",
        good[1],
    ])
    result = lcdev("reloads", "--json", "-w", str(ws))
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [event.to_dict() for event in HISTORY[:2]]
    assert flat(result.stderr) == (
        "skipped 7 unreadable lines of .lcdev/telemetry/reloads.ndjson")
    table = lcdev("reloads", "-w", str(ws))
    assert table.exit_code == 0
    assert len(table.stdout.splitlines()) == 1 + 2 + 2  # header, two rows, gap, summary


def test_outside_a_workspace_says_how_to_get_one(tmp_path: Path) -> None:
    result = lcdev("reloads", "-w", str(tmp_path))
    assert result.exit_code == 2
    assert "is not a workspace" in flat(result.stderr)


def test_reloads_runs_without_heavy_libraries(ws: Path) -> None:
    _record(ws, HISTORY)
    code = (
        "import contextlib\n"
        "from lcdev.cli.main import app\n"
        "with contextlib.suppress(SystemExit):\n"
        f"    app(['reloads', '-w', {str(ws)!r}])\n"
    )
    assert _heavy_modules_after(code, allowed=("pydantic",)) == []  # typer's own pydantic


def _render(events: list[Event], width: int) -> list[str]:
    console = Console(width=width, record=True, no_color=True, file=io.StringIO())
    console.print(reload_table(events, width))
    return console.export_text().splitlines()


def test_a_reload_that_changed_nothing_says_so() -> None:
    """``lcdev apply`` of a service whose files did not change still rebuilds it."""
    forced = ServiceReloaded(at=T0, name="orders", version_before="1.1.0",
                             version_after="1.1.0", seconds=0.015)
    assert _render([forced], 100)[1].rstrip().endswith("15 ms  no change")


def test_a_narrow_terminal_leaves_the_versions_out_and_wraps_what_changed() -> None:
    wide = _render(HISTORY, 120)
    assert "VERSION" in wide[0]
    narrow = _render(HISTORY, 70)
    assert "VERSION" not in narrow[0]
    assert all(len(line.rstrip()) <= 70 for line in narrow)
    text = " ".join(line.strip() for line in narrow)
    for change in ("+ field Order.note", "+ GET", "(+1 more)"):
        assert change in text


def test_first_items_fit_the_width_with_a_count_of_the_rest() -> None:
    items = ["+ field Order.note", "+ field Order.total", "+ GET /orders/{id}"]
    assert first_items(items, 100) == ", ".join(items)
    assert first_items(items, 50) == "+ field Order.note, + field Order.total, +1 more"
    assert first_items(items, 30) == "+ field Order.note, +2 more"
    assert first_items(items, 15) == "+ fie…, +2 more"  # 15 wide, the count kept
    assert first_items([], 10) == ""


def test_took_reads_at_a_glance() -> None:
    def at(seconds: float) -> str:
        return took(ServiceReloaded(name="orders", seconds=seconds))

    assert [at(0.0042), at(0.042), at(0.999), at(1.234), at(0)] == [
        "4.2 ms", "42 ms", "999 ms", "1.23 s", "-"]
    assert took(ReloadFailed(name="orders", reason="invalid", message="")) == "-"


def test_latency_percentiles_are_measured_values() -> None:
    swaps = [ServiceReloaded(name="orders", seconds=ms / 1000) for ms in range(1, 101)]
    summary = latency_summary(swaps)
    assert summary is not None
    assert summary.plain == "p50 50 ms, p95 95 ms over 100 reloads"
    one = latency_summary([ServiceReloaded(name="orders", seconds=0.02)])
    assert one is not None
    assert one.plain == "p50 20 ms, p95 20 ms over 1 reload"
    assert latency_summary([ServiceReloaded(name="x", how="started", seconds=1.0)]) is None


def test_outcomes_are_green_when_live_red_when_not_yellow_when_waiting_for_up() -> None:
    screen = io.StringIO()
    Console(file=screen, width=160, force_terminal=True, color_system="standard").print(
        reload_table(HISTORY, 160))
    rows = screen.getvalue().splitlines()[1:]
    green, red, yellow = "\x1b[32m", "\x1b[1;31m", "\x1b[33m"
    assert [row.split()[1] for row in _render(HISTORY, 160)[1:]] == [
        "orders", "orders", "orders", "payments", "billing", "workspace", "inventory"]
    expected = [f"{green}reloaded", f"{red}invalid", f"{red}destructive",
                f"{green}restarted", f"{green}started", f"{yellow}needs up", f"{green}stopped"]
    for row, coloured in zip(rows, expected, strict=True):
        assert re.search(rf"  {re.escape(coloured)} *\x1b\[0m", row)  # padded in the column
