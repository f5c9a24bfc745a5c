"""Realistic telemetry for the ``logs``/``traces``/``trace``/``metrics`` tests.

Times start at ``T0``, two minutes before the tests run. One order placed through the
gateway: gateway → orders (SQL insert, outbox, publish to Kafka) → payments consumes the event
and fails to charge the card. Log lines carry the trace and span ids the way the runtime prints
them; infra lines (postgres) carry none.
"""

from __future__ import annotations

import time
from pathlib import Path

from lcdev.core.layout import WorkspaceLayout
from lcdev.telemetry.records import LogRecord, MetricPoint, SpanEvent, SpanRecord

# Two minutes ago, on a whole second: recent enough for `--since 5m` and the metrics window.
T0 = (time.time_ns() // 1_000_000_000 - 120) * 1_000_000_000
MS = 1_000_000
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER_TRACE = "0af7651916cd43dd8448eb211c80319c"
SLOW_TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"


def _span(span_id: str, parent: str, service: str, name: str, kind: str, start_ms: float,
          end_ms: float, trace: str = TRACE, **extra: object) -> SpanRecord:
    return SpanRecord(trace_id=trace, span_id=span_id, parent_span_id=parent, service=service,
                      name=name, kind=kind,  # type: ignore[arg-type]
                      start_ns=T0 + int(start_ms * MS), end_ns=T0 + int(end_ms * MS),
                      **extra)  # type: ignore[arg-type]


def order_trace() -> list[SpanRecord]:
    """The failing order: 7 spans over 3 services, 42 ms, one error span."""
    return [
        _span("a000000000000001", "", "gateway", "POST /orders/orders", "server", 0, 42,
              status="ok", attributes={"http.request.method": "POST", "url.path":
                                       "/orders/orders", "http.route": "/orders",
                                       "http.response.status_code": 201}),
        _span("a000000000000002", "a000000000000001", "orders", "POST /orders/orders",
              "server", 0.4, 12, attributes={"http.route": "/orders/orders",
                                             "http.request.method": "POST",
                                             "http.response.status_code": 201}),
        _span("a000000000000003", "a000000000000002", "orders", "INSERT orders", "client",
              1, 4, attributes={"db.system": "postgresql",
                                "db.query.text": "INSERT INTO orders (id, total) VALUES ($1, $2)"}),
        _span("a000000000000004", "a000000000000002", "orders", "outbox orders.order-placed",
              "internal", 4.2, 4.7,
              attributes={"messaging.destination.name": "orders.order-placed"}),
        _span("a000000000000005", "a000000000000004", "orders", "publish orders.order-placed",
              "producer", 14, 16, attributes={"messaging.system": "kafka",
                                              "messaging.destination.name": "orders.order-placed"}),
        _span("a000000000000006", "a000000000000005", "payments", "process orders.order-placed",
              "consumer", 20, 41, attributes={"messaging.destination.name": "orders.order-placed",
                                              "messaging.kafka.offset": 7}),
        _span("a000000000000007", "a000000000000006", "payments", "payments.charge", "internal",
              21, 40, status="error", status_message="card declined",
              events=(SpanEvent("exception", T0 + 39 * MS, {
                  "exception.type": "ValueError", "exception.message": "card declined",
                  "exception.stacktrace": "Traceback (most recent call last):\n"
                                          "  File \"charge.py\", line 3, in charge\n"
                                          "ValueError: card declined"}),)),
    ]


def other_traces() -> list[SpanRecord]:
    """A quick successful GET on orders (2 spans) and a slow GET on payments (1 span)."""
    return [
        _span("b000000000000001", "", "gateway", "GET /orders/orders/{id}", "server", 1000, 1003,
              trace=OTHER_TRACE, status="ok",
              attributes={"http.route": "/orders", "http.response.status_code": 200}),
        _span("b000000000000002", "b000000000000001", "orders", "GET /orders/orders/{id}",
              "server", 1000.5, 1002.5, trace=OTHER_TRACE,
              attributes={"http.route": "/orders/orders/{id}", "http.response.status_code": 200}),
        _span("c000000000000001", "", "payments", "GET /payments/payments", "server", 2000, 2350,
              trace=SLOW_TRACE, attributes={"http.route": "/payments/payments",
                                            "http.response.status_code": 200}),
    ]


def _log(at_ms: float, service: str, level: str, message: str, trace: str = "",
         span: str = "", stream: str = "stdout") -> LogRecord:
    return LogRecord(time_ns=T0 + int(at_ms * MS), service=service, stream=stream,
                     level=level, message=message,  # type: ignore[arg-type]
                     trace_id=trace, span_id=span)


def sample_logs() -> list[LogRecord]:
    """Ten lines from four services, in time order."""
    return [
        _log(-5000, "postgres", "info", "database system is ready to accept connections",
             stream="stderr"),
        _log(-4000, "orders", "debug", "pool opened size=4"),
        _log(0.2, "gateway", "info", "POST /orders/orders", TRACE, "a000000000000001"),
        _log(2, "orders", "info", "order 42 created total=99.90", TRACE, "a000000000000002"),
        _log(15, "orders", "info", "published orders.order-placed offset=7", TRACE,
             "a000000000000005"),
        _log(30, "payments", "warn", "card check slow: 9 ms", TRACE, "a000000000000006"),
        _log(39.5, "payments", "error", "charge failed for order 42: card declined", TRACE,
             "a000000000000007"),
        _log(41, "payments", "info", "order 42 marked unpaid", TRACE),  # no span: under root
        _log(1001, "orders", "info", "order 42 read", OTHER_TRACE, "b000000000000002"),
        _log(2400, "gateway", "warn", "slow upstream payments: 350 ms", SLOW_TRACE),
    ]


def sample_metrics() -> list[MetricPoint]:
    """Consumer lag of payments on the order-placed topic."""
    return [MetricPoint(time_ns=T0 + 5000 * MS, service="payments", name="lcdev.consumer.lag",
                        kind="gauge", value=3.0,
                        attributes={"messaging.destination.name": "orders.order-placed",
                                    "messaging.destination.partition.id": "0"})]


def workspace(parent: Path) -> Path:
    """The smallest workspace the telemetry commands accept (they read only the store)."""
    root = parent / "ws"
    root.mkdir()
    (root / "lcdev.yaml").write_text("name: ws\n")
    return root


def populate(root: Path, logs: list[LogRecord] | None = None,
             spans: list[SpanRecord] | None = None) -> None:
    """Write records into the workspace's store the way the supervisor does."""
    from lcdev.telemetry.store import TelemetryStore

    store = TelemetryStore.open(WorkspaceLayout(root).telemetry_db, readonly=False)
    try:
        store.write_spans(order_trace() + other_traces() if spans is None else spans)
        store.write_logs(sample_logs() if logs is None else logs)
        if logs is None and spans is None:
            store.write_metrics(sample_metrics())
    finally:
        store.close()
