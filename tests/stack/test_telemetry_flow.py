"""Observability end to end: a shop order through the real stack is one trace in the store.

The gateway, four forked services, PostgreSQL and tansu run for real; the services and the
gateway export spans through the OpenTelemetry SDK to the supervisor's OTLP receiver, and every
line they print lands in the same store. The test asks the store (and the CLI) what happened.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lcdev.core.layout import WorkspaceLayout
from lcdev.telemetry.records import SpanRecord
from lcdev.telemetry.store import LogQuery, TelemetryStore, TraceDetail
from tests.conftest import run_lcdev, running_shop_stack

pytestmark = pytest.mark.stack

SERVICES = {"gateway", "orders", "inventory", "payments", "notifications"}


@pytest.fixture(scope="module")
def shop_stack() -> Iterator[dict[str, Any]]:
    with running_shop_stack("lcdev-otel-") as stack:
        yield stack


def _trace(root: Path, trace_id: str, done: Any, timeout: float = 20) -> TraceDetail:
    """Poll the store until ``done(detail)`` holds (spans arrive in batches)."""
    deadline = time.monotonic() + timeout
    detail: TraceDetail | None = None
    while time.monotonic() < deadline:
        store = TelemetryStore.open(WorkspaceLayout(root).telemetry_db, readonly=True)
        try:
            detail = store.get_trace(trace_id)
        finally:
            store.close()
        if detail is not None and done(detail):
            return detail
        time.sleep(0.2)
    seen = sorted({(s.service, s.kind, s.name) for s in detail.spans}) if detail else []
    raise AssertionError(f"trace {trace_id} incomplete after {timeout}s; spans: {seen}")


def _ancestors(span: SpanRecord, by_id: dict[str, SpanRecord]) -> list[SpanRecord]:
    chain = []
    while span.parent_span_id in by_id:
        span = by_id[span.parent_span_id]
        chain.append(span)
    return chain


def _place_traced(client: httpx.Client) -> tuple[str, str, str]:
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    response = client.post(
        "/orders/orders",
        json={"customer_id": str(uuid.uuid4()), "lines": [{"sku": "SKU-1", "quantity": 1}]},
        headers={"traceparent": f"00-{trace_id}-{caller_span}-01"},
    )
    assert response.status_code == 201, response.text
    return trace_id, caller_span, response.json()["id"]


def test_an_order_is_one_trace_from_the_post_to_the_notification(
    shop_stack: dict[str, Any],
) -> None:
    trace_id, caller_span, _ = _place_traced(shop_stack["client"])

    def complete(detail: TraceDetail) -> bool:
        """Every process exports its spans on its own schedule: wait for the whole saga."""
        seen = {(s.service, s.kind) for s in detail.spans}
        return {("gateway", "server"), ("orders", "server"), ("orders", "producer"),
                ("inventory", "consumer"), ("payments", "producer"),
                ("notifications", "consumer")} <= seen

    detail = _trace(shop_stack["root"], trace_id, complete)
    spans = detail.spans
    by_id = {s.span_id: s for s in spans}
    assert {s.trace_id for s in spans} == {trace_id}
    assert {s.service for s in spans} >= SERVICES

    # the gateway's span is the child of the caller, the service's span the gateway's child
    gateway = next(s for s in spans if s.service == "gateway" and s.kind == "server")
    assert gateway.parent_span_id == caller_span
    assert gateway.attributes["http.response.status_code"] == 201
    orders = next(s for s in spans if s.service == "orders" and s.kind == "server")
    assert orders.parent_span_id == gateway.span_id
    assert orders.attributes["http.route"] == "/orders/orders"

    # SQL statements and the outbox write happen inside the request
    sql = [s for s in spans if s.service == "orders" and s.kind == "client"]
    assert sql, "no SQL spans under the orders request"
    assert all(s.attributes.get("db.system") == "postgresql" for s in sql)
    assert any(orders in _ancestors(s, by_id) for s in sql)

    # Kafka: publish (producer) in orders, consume (consumer) in inventory, its child;
    # and so on down the saga to the notification
    publish = next(s for s in spans if s.service == "orders" and s.kind == "producer")
    reserve = next(s for s in spans if s.service == "inventory" and s.kind == "consumer")
    assert reserve.parent_span_id == publish.span_id
    notification = next(s for s in spans if s.service == "notifications" and s.kind == "consumer")
    chain = {(s.service, s.kind) for s in _ancestors(notification, by_id)}
    assert {("payments", "producer"), ("inventory", "consumer"), ("orders", "server"),
            ("gateway", "server")} <= chain
    # every span but the gateway's hangs off a span of this trace: one tree, no orphans
    assert [s for s in spans if s.parent_span_id not in by_id] == [gateway]


def test_log_lines_carry_the_trace_of_the_request_that_caused_them(
    shop_stack: dict[str, Any],
) -> None:
    trace_id, _, order_id = _place_traced(shop_stack["client"])
    _trace(shop_stack["root"], trace_id,
           lambda d: any(s.service == "gateway" for s in d.spans))
    deadline = time.monotonic() + 10
    services: set[str] = set()
    while time.monotonic() < deadline and "gateway" not in services:
        store = TelemetryStore.open(WorkspaceLayout(shop_stack["root"]).telemetry_db,
                                    readonly=True)
        try:
            logs = store.query_logs(LogQuery(trace_id=trace_id))
        finally:
            store.close()
        services = {line.service for line in logs}
        time.sleep(0.2)
    assert "gateway" in services, "the gateway's access log line is not linked to the trace"
    access = next(line for line in logs if line.service == "gateway")
    assert access.span_id
    assert "/orders/orders" in access.message


def test_the_cli_answers_what_happened_to_this_request(shop_stack: dict[str, Any]) -> None:
    root = shop_stack["root"]
    trace_id, _, _ = _place_traced(shop_stack["client"])
    _trace(root, trace_id, lambda d: any(s.service == "inventory" for s in d.spans))

    listed = run_lcdev("traces", "--json", "--service", "orders", "-w", str(root))
    assert listed.returncode == 0, listed.stderr
    assert trace_id in listed.stdout

    shown = run_lcdev("trace", trace_id[:12], "--json", "-w", str(root))
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["trace_id"] == trace_id
    assert {"gateway", "orders"} <= {s["service"] for s in document["spans"]}

    waterfall = run_lcdev("trace", trace_id, "-w", str(root), env={"COLUMNS": "120"})
    assert waterfall.returncode == 0, waterfall.stderr
    assert "POST" in waterfall.stdout
    assert "orders" in waterfall.stdout


def test_every_line_a_service_prints_is_stored_with_its_source(
    shop_stack: dict[str, Any],
) -> None:
    result = run_lcdev("logs", "--json", "-n", "500", "-w", str(shop_stack["root"]))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    sources = {line["service"] for line in lines}
    assert {"postgres", "lcdev"} <= sources, sources
    ready = [line for line in lines if line["service"] == "lcdev" and "ready" in line["message"]]
    assert ready, "the supervisor's own events are part of the merged log"
