"""``lcdev trace ID`` against a real telemetry store: the waterfall, prefixes, errors, JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lcdev.cli.main import app
from tests.cli.conftest import ENV, flat, lcdev
from tests.cli.telemetry_samples import TRACE, order_trace, populate, workspace


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = workspace(tmp_path)
    populate(root)
    return root


def at_width(width: int, *args: str) -> str:
    result = CliRunner(env={**ENV, "COLUMNS": str(width)}).invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_prefix_shows_the_waterfall_at_the_terminal_width(ws: Path) -> None:
    text = at_width(100, "trace", TRACE[:6], "-w", str(ws))
    lines = text.splitlines()
    assert lines[0] == f"POST /orders/orders  trace {TRACE}"
    assert max(len(line) for line in lines) == 100
    assert any(line.strip().startswith("└ payments.charge") for line in lines)
    assert "✗ ValueError: card declined" in text
    assert "charge failed for order 42: card declined" in text  # the trace's logs, inline
    narrow = at_width(72, "trace", TRACE, "-w", str(ws))
    assert max(len(line) for line in narrow.splitlines()) == 72


def test_options_add_attributes_or_leave_out_logs(ws: Path) -> None:
    assert "db.system = postgresql" in at_width(100, "trace", TRACE, "--attrs", "-w", str(ws))
    assert "charge failed" not in at_width(100, "trace", TRACE, "--no-logs", "-w", str(ws))


def test_an_unknown_id_is_an_error(ws: Path) -> None:
    result = lcdev("trace", "ffffffff", "-w", str(ws))
    assert result.exit_code == 1
    assert "no trace ffffffff" in flat(result.stderr)
    assert "lcdev traces" in result.stderr


def test_something_that_is_not_an_id_is_a_usage_error(ws: Path) -> None:
    result = lcdev("trace", "orders", "-w", str(ws))
    assert result.exit_code == 2
    assert "'orders' is not a trace id" in flat(result.stderr)


def test_an_ambiguous_prefix_lists_the_candidates(ws: Path) -> None:
    twin = TRACE[:4] + "0" * 28
    populate(ws, logs=[], spans=[replace(span, trace_id=twin) for span in order_trace()[:1]])
    result = lcdev("trace", TRACE[:4], "-w", str(ws))
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert f"{TRACE[:4]} matches several traces" in message
    assert TRACE in message
    assert twin in message
    assert lcdev("trace", TRACE[:5], "-w", str(ws)).exit_code == 0


def test_json_has_the_spans_in_tree_order_and_the_logs(ws: Path) -> None:
    result = lcdev("trace", TRACE[:12], "--json", "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["trace_id"] == TRACE
    assert document["span_count"] == 7
    assert document["error"] is True
    assert [(span["depth"], span["name"]) for span in document["spans"]] == [
        (0, "POST /orders/orders"), (1, "POST /orders/orders"), (2, "INSERT orders"),
        (2, "outbox orders.order-placed"), (3, "publish orders.order-placed"),
        (4, "process orders.order-placed"), (5, "payments.charge")]
    charge = document["spans"][-1]
    assert charge["status"] == "error"
    assert charge["events"][0]["attributes"]["exception.type"] == "ValueError"
    assert charge["duration_ms"] == 19.0
    assert [log["level"] for log in document["logs"]] == [
        "info", "info", "info", "warn", "error", "info"]
