"""``lcdev metrics`` against a real telemetry store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cli.conftest import flat, lcdev
from tests.cli.telemetry_samples import (
    MS,
    other_traces,
    populate,
    workspace,
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = workspace(tmp_path)
    populate(root)
    failed = replace(other_traces()[2], trace_id="d" * 32, span_id="d" * 16, status="error",
                     attributes={"http.route": "/payments/payments",
                                 "http.response.status_code": 500},
                     end_ns=other_traces()[2].start_ns + 10 * MS)
    populate(root, logs=[], spans=[failed])
    return root


def table(stdout: str, heading: str) -> list[list[str]]:
    """The rows of the table whose header starts with ``heading``, split on whitespace."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    found = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        found.append(line.split())
    return found


def test_without_a_store_says_to_run_up(tmp_path: Path) -> None:
    result = lcdev("metrics", "-w", str(workspace(tmp_path)))
    assert result.exit_code == 1
    assert "no telemetry yet" in flat(result.stderr)


def test_requests_per_route_with_errors_and_percentiles(ws: Path) -> None:
    result = lcdev("metrics", "-w", str(ws))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == [
        "SERVICE", "ROUTE", "REQUESTS", "ERRORS", "ERROR", "%", "P50", "ms", "P95", "ms", "P99",
        "ms"]
    routes = {(row[0], row[1]): row[2:] for row in table(result.stdout, "SERVICE")}
    assert routes[("orders", "/orders/orders")][:3] == ["1", "0", "0.0%"]
    payments = routes[("payments", "/payments/payments")]
    assert payments[:3] == ["2", "1", "50.0%"]
    assert float(payments[5]) == pytest.approx(350, abs=1)  # p99: the slow one


def test_events_published_and_consumed_with_lag(ws: Path) -> None:
    result = lcdev("metrics", "-w", str(ws))
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "PUBLISHED" in line)
    assert lines[start].split() == ["SERVICE", "TOPIC", "PUBLISHED", "CONSUMED", "ERRORS",
                                    "P50", "ms", "P95", "ms", "LAG"]
    header = lines[start]
    published = slice(header.index("PUBLISHED"), header.index("PUBLISHED") + 9)
    consumed = slice(header.index("CONSUMED"), header.index("CONSUMED") + 8)
    producer, consumer = lines[start + 1:start + 3]
    assert producer.split()[:2] == ["orders", "orders.order-placed"]
    assert (producer[published].strip(), producer[consumed].strip()) == ("1", "")
    assert consumer.split()[:2] == ["payments", "orders.order-placed"]
    assert (consumer[published].strip(), consumer[consumed].strip()) == ("", "1")
    assert consumer.split()[-1] == "3"  # consumer lag


def test_one_service(ws: Path) -> None:
    result = lcdev("metrics", "orders", "-w", str(ws))
    assert {line.split()[0] for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("SERVICE")} == {"orders"}


def test_an_unknown_service_lists_the_known_ones(ws: Path) -> None:
    result = lcdev("metrics", "ordres", "-w", str(ws))
    assert result.exit_code == 1
    assert "gateway, orders, payments" in flat(result.stderr)


def test_an_empty_window_says_how_to_look_further(ws: Path) -> None:
    result = lcdev("metrics", "orders", "--since", "1m", "-w", str(ws))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "--since 1d" in result.stderr


def test_lag_is_shown_even_without_events_in_the_window(ws: Path) -> None:
    result = lcdev("metrics", "--since", "1m", "-w", str(ws))
    (row,) = [line.split() for line in result.stdout.splitlines()[1:]]
    assert row == ["payments", "orders.order-placed", "0", "0", "-", "-", "3"]


def test_json(ws: Path) -> None:
    document = json.loads(lcdev("metrics", "--json", "-w", str(ws)).stdout)
    payments = next(row for row in document["routes"] if row["service"] == "payments")
    assert payments["count"] == 2
    assert payments["errors"] == 1
    assert payments["error_percent"] == 50.0
    assert {(row["kind"], row["topic"]) for row in document["events"]} == {
        ("producer", "orders.order-placed"), ("consumer", "orders.order-placed")}
    assert next(row for row in document["events"] if row["kind"] == "consumer"
                )["consumer_lag"] == 3.0
