"""``lcdev logs`` against a real telemetry store in a temporary workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lcdev.cli.views.style import clock, iso_time
from tests.cli.conftest import flat, lcdev
from tests.cli.telemetry_samples import (
    MS,
    OTHER_TRACE,
    T0,
    TRACE,
    order_trace,
    populate,
    sample_logs,
    workspace,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = workspace(tmp_path)
    populate(root)
    return root


def messages(stdout: str) -> list[str]:
    """The message column of each line (after time, service and level), trace ids dropped."""
    return [" ".join(line.split()[3:]).split("  trace=")[0].split(" trace=")[0]
            for line in stdout.splitlines()]


def test_without_a_store_says_to_run_up_and_exits_1(tmp_path: Path) -> None:
    result = lcdev("logs", "-w", str(workspace(tmp_path)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: no telemetry yet" in flat(result.stderr)
    assert "lcdev up" in result.stderr


def test_merged_lines_in_order_with_time_service_level_and_trace(ws: Path) -> None:
    result = lcdev("logs", "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(sample_logs())
    assert lines[0] == (f"{clock(T0 - 5000 * MS)} postgres INFO  database system is ready to "
                        "accept connections")
    assert lines[6] == (f"{clock(T0 + 39_500_000)} payments ERROR charge failed for order 42: "
                        f"card declined  trace={TRACE[:12]}")


def test_tail_shows_the_last_lines(ws: Path) -> None:
    result = lcdev("logs", "-n", "2", "-w", str(ws))
    assert messages(result.stdout) == ["order 42 read", "slow upstream payments: 350 ms"]


def test_only_the_services_asked_for(ws: Path) -> None:
    result = lcdev("logs", "postgres", "gateway", "-w", str(ws))
    assert {line.split()[1] for line in result.stdout.splitlines()} == {"postgres", "gateway"}
    assert len(result.stdout.splitlines()) == 3


def test_an_unknown_service_is_an_error_listing_the_known_ones(ws: Path) -> None:
    result = lcdev("logs", "ordres", "-w", str(ws))
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert "no log lines from ordres" in message
    assert "gateway, orders, payments, postgres" in message


def test_level_keeps_that_level_and_above(ws: Path) -> None:
    result = lcdev("logs", "--level", "warning", "-w", str(ws))
    assert [line.split()[2] for line in result.stdout.splitlines()] == ["WARN", "ERROR", "WARN"]


def test_an_unknown_level_is_a_usage_error(ws: Path) -> None:
    result = lcdev("logs", "--level", "loud", "-w", str(ws))
    assert result.exit_code == 2
    assert "trace, debug, info, warn, error, fatal" in flat(result.stderr)


def test_grep_is_a_regular_expression_case_sensitive_unless_asked(ws: Path) -> None:
    assert messages(lcdev("logs", "--grep", r"order \d+ (read|created)", "-w", str(ws)).stdout
                    ) == ["order 42 created total=99.90", "order 42 read"]
    assert lcdev("logs", "--grep", "CARD", "-w", str(ws)).stdout == ""
    assert len(lcdev("logs", "-g", "CARD", "-i", "-w", str(ws)).stdout.splitlines()) == 2


def test_a_bad_regular_expression_is_a_usage_error(ws: Path) -> None:
    result = lcdev("logs", "--grep", "order (", "-w", str(ws))
    assert result.exit_code == 2
    assert "not a regular expression" in flat(result.stderr)


def test_trace_accepts_a_prefix_and_shows_only_that_trace(ws: Path) -> None:
    result = lcdev("logs", "--trace", TRACE[:8], "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    assert all(line.endswith(f"trace={TRACE[:12]}") for line in lines)


def test_an_unknown_trace_is_an_error(ws: Path) -> None:
    result = lcdev("logs", "--trace", "ffff", "-w", str(ws))
    assert result.exit_code == 1
    assert "no trace ffff" in flat(result.stderr)


def test_since_takes_ages_and_timestamps(ws: Path) -> None:
    assert lcdev("logs", "--since", "1m", "-w", str(ws)).stdout == ""
    assert len(lcdev("logs", "--since", "10m", "-w", str(ws)).stdout.splitlines()) == 10
    since = iso_time(T0 + 1000 * MS)
    assert messages(lcdev("logs", "--since", since, "-w", str(ws)).stdout) == [
        "order 42 read", "slow upstream payments: 350 ms"]


def test_nothing_matching_is_not_an_error(ws: Path) -> None:
    result = lcdev("logs", "--grep", "no such text", "-w", str(ws))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no log lines match" in result.stderr


def test_json_has_every_field_one_object_per_line(ws: Path) -> None:
    result = lcdev("logs", "--json", "--trace", OTHER_TRACE, "-w", str(ws))
    assert result.exit_code == 0
    (line,) = [json.loads(text) for text in result.stdout.splitlines()]
    assert line == {
        "id": line["id"], "time": iso_time(T0 + 1001 * MS), "time_ns": T0 + 1001 * MS,
        "service": "orders", "stream": "stdout", "level": "info", "message": "order 42 read",
        "trace_id": OTHER_TRACE, "span_id": "b000000000000002", "attributes": {}}
    assert isinstance(line["id"], int)
    assert line["id"] > 0


def test_json_keeps_long_messages_whole(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    long = sample_logs()[0].__class__(time_ns=T0, service="orders", stream="stdout",
                                      level="info", message="z" * 10_000)
    populate(root, logs=[long], spans=order_trace())
    shown = lcdev("logs", "-w", str(root)).stdout
    assert "… [+8000 chars]" in shown
    (line,) = lcdev("logs", "--json", "-w", str(root)).stdout.splitlines()
    assert json.loads(line)["message"] == "z" * 10_000
