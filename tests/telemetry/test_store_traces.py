"""Traces from spans (summaries, roots of partial traces, id prefixes) and route metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lcdev.telemetry.records import LogRecord, MetricPoint, SpanEvent, SpanRecord
from lcdev.telemetry.store import RouteMetrics, TelemetryStore, TraceQuery

T0 = 1_790_000_000_000_000_000
MS = 10**6
MINUTE = 60 * 10**9


def span(trace: str, span_id: str, parent: str, service: str, name: str, start_ms: float,
         duration_ms: float, kind: str = "server", status: str = "unset",
         **attributes: object) -> SpanRecord:
    start = T0 + int(start_ms * MS)
    return SpanRecord(trace_id=trace, span_id=span_id, parent_span_id=parent, service=service,
                      name=name, kind=kind, start_ns=start,  # type: ignore[arg-type]
                      end_ns=start + int(duration_ms * MS), status=status,  # type: ignore[arg-type]
                      attributes={key.replace("_", "."): value
                                  for key, value in attributes.items()})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TelemetryStore]:
    with TelemetryStore.open(tmp_path / "telemetry.db") as opened:
        yield opened


def order_trace(trace: str, start_ms: float, failed: bool = False) -> list[SpanRecord]:
    status = "error" if failed else "unset"
    return [
        span(trace, "a" * 16, "", "gateway", "POST /orders/orders", start_ms, 30,
             http_route="/orders", status=status),
        span(trace, "b" * 16, "a" * 16, "orders", "POST /orders/orders", start_ms + 2, 25,
             http_route="/orders/orders", status=status),
        span(trace, "c" * 16, "b" * 16, "orders", "INSERT orders", start_ms + 3, 5, "client"),
        span(trace, "d" * 16, "b" * 16, "orders", "publish orders.order-placed", start_ms + 40,
             2, "producer", messaging_destination_name="orders.order-placed"),
    ]


def test_summaries_list_newest_first_with_filters(store: TelemetryStore) -> None:
    store.write_spans(order_trace("1" * 32, 0))
    store.write_spans(order_trace("2" * 32, 100, failed=True))
    store.write_spans([span("3" * 32, "e" * 16, "", "payments", "GET /payments/{id}", 200, 1,
                            http_route="/payments/{id}")])
    listed = store.list_traces(TraceQuery())
    assert [summary.trace_id for summary in listed] == ["3" * 32, "2" * 32, "1" * 32]
    first = listed[2]
    assert (first.root_service, first.root_name, first.root_route) == (
        "gateway", "POST /orders/orders", "/orders")
    assert (first.start_ns, first.duration_ns, first.span_count) == (T0, 42 * MS, 4)
    assert first.services == ("gateway", "orders")
    assert not first.error
    assert [s.trace_id for s in store.list_traces(TraceQuery(errors_only=True))] == ["2" * 32]
    assert [s.trace_id for s in store.list_traces(TraceQuery(service="orders"))] == [
        "2" * 32, "1" * 32]
    assert store.list_traces(TraceQuery(service="order")) == []  # whole names only
    assert [s.trace_id for s in store.list_traces(TraceQuery(route="/orders/orders"))] == [
        "2" * 32, "1" * 32]  # the end of the root's name
    assert [s.trace_id for s in store.list_traces(TraceQuery(route="/payments/{id}"))] == [
        "3" * 32]
    assert len(store.list_traces(TraceQuery(min_duration_ns=40 * MS))) == 2
    assert [s.trace_id for s in store.list_traces(TraceQuery(since_ns=T0 + 150 * MS))] == [
        "3" * 32]
    assert len(store.list_traces(TraceQuery(limit=1))) == 1


def test_partial_trace_shows_and_its_root_settles(store: TelemetryStore) -> None:
    trace = "4" * 32
    spans = order_trace(trace, 0)
    store.write_spans(spans[2:])  # the children arrive first
    (partial,) = store.list_traces(TraceQuery())
    assert (partial.root_name, partial.span_count) == ("INSERT orders", 2)  # earliest so far
    store.write_spans(spans[1:2])
    assert store.list_traces(TraceQuery())[0].root_service == "orders"
    store.write_spans(spans[:1])
    (whole,) = store.list_traces(TraceQuery())
    assert (whole.root_service, whole.span_count, whole.start_ns) == ("gateway", 4, T0)


def test_root_whose_parent_is_elsewhere(store: TelemetryStore) -> None:
    # the caller sent a traceparent: no stored span lacks a parent
    store.write_spans([span("5" * 32, "b" * 16, "a" * 16, "gateway", "GET /x", 0, 10),
                       span("5" * 32, "c" * 16, "b" * 16, "orders", "GET /x", 1, 5)])
    assert store.list_traces(TraceQuery())[0].root_service == "gateway"


def test_get_trace_by_id_and_unique_prefix(store: TelemetryStore) -> None:
    first, second = "abcd1234" + "0" * 24, "abcd1299" + "1" * 24
    failing = span(first, "f" * 16, "b" * 16, "orders", "SELECT x", 1, 1, "client", "error")
    failing = SpanRecord(**{**{field: getattr(failing, field) for field in (
        "trace_id", "span_id", "parent_span_id", "service", "name", "kind", "start_ns",
        "end_ns", "status", "attributes")}, "status_message": "boom",
        "events": (SpanEvent("exception", T0 + MS, {"exception.type": "ValueError"}),)})
    store.write_spans([*order_trace(first, 0), failing])
    store.write_spans(order_trace(second, 500))
    store.write_logs([
        LogRecord(T0 + 3 * MS, "orders", "stdout", "info", "inserted", first, "c" * 16),
        LogRecord(T0 + 1 * MS, "gateway", "stdout", "info", "request", first, "a" * 16),
        LogRecord(T0, "orders", "stdout", "info", "other trace", second),
    ])
    detail = store.get_trace(first)
    assert detail is not None
    assert detail.trace_id == first
    assert [s.span_id[0] for s in detail.spans] == ["a", "f", "b", "c", "d"]  # by start
    stored_failure = detail.spans[1]
    assert (stored_failure.status, stored_failure.status_message) == ("error", "boom")
    assert stored_failure.events == (SpanEvent("exception", T0 + MS,
                                               {"exception.type": "ValueError"}),)
    assert detail.spans[0].attributes == {"http.route": "/orders"}
    assert [log.message for log in detail.logs] == ["request", "inserted"]  # by time
    by_prefix = store.get_trace("ABCD1234 ")
    assert by_prefix is not None
    assert by_prefix.trace_id == first
    assert store.get_trace("abcd12") is None  # two traces start so
    assert store.match_trace_ids("abcd12") == [first, second]
    assert store.get_trace("ffff") is None
    assert store.get_trace("not-hex") is None
    assert store.get_trace("") is None


def test_route_metrics_percentiles_errors_and_events(store: TelemetryStore) -> None:
    spans = [span(f"{i:032x}", "a" * 16, "", "orders", "GET /orders/orders/{id}", i, i + 1,
                  http_route="/orders/orders/{id}", status="error" if i < 3 else "unset")
             for i in range(100)]
    spans += [span("f" * 32, f"{i:016x}", "", "orders", "GET /nothing", 0, 5)
              for i in range(2)]
    spans += [span("e" * 32, "b" * 16, "", "orders", "publish orders.order-placed", 0, 1,
                   "producer", messaging_destination_name="orders.order-placed")]
    spans += [span("e" * 32, f"{i:016x}", "b" * 16, "payments", "process orders.order-placed",
                   1, 2, "consumer", messaging_destination_name="orders.order-placed")
              for i in range(3)]
    spans += [span("e" * 32, "c" * 16, "b" * 16, "payments", "SELECT x", 1, 1, "client")]
    store.write_spans(spans[:50])
    store.write_spans(spans[50:])  # folded into the same minute's row
    rows = {(row.service, row.route, row.kind): row for row in store.route_metrics()}
    assert set(rows) == {("orders", "/orders/orders/{id}", "server"),
                         ("orders", "GET /nothing", "server"),
                         ("orders", "publish orders.order-placed", "producer"),
                         ("payments", "process orders.order-placed", "consumer")}
    route = rows[("orders", "/orders/orders/{id}", "server")]
    assert (route.count, route.errors) == (100, 3)
    assert route.p50_ms == pytest.approx(50, rel=0.01)
    assert route.p95_ms == pytest.approx(95, rel=0.01)
    assert route.p99_ms == pytest.approx(99, rel=0.01)
    assert rows[("payments", "process orders.order-placed", "consumer")].count == 3
    assert rows[("orders", "publish orders.order-placed", "producer")].count == 1
    assert {row.service for row in store.route_metrics(service="payments")} == {"payments"}
    assert store.route_metrics(since_ns=T0 + MINUTE) == []


def test_route_metrics_since_counts_whole_minutes(store: TelemetryStore) -> None:
    store.write_spans([span("1" * 32, "a" * 16, "", "orders", "GET /a", 0, 1),
                       span("2" * 32, "a" * 16, "", "orders", "GET /a", 3 * 60_000, 1)])
    assert [row.count for row in store.route_metrics()] == [2]
    assert [row.count for row in store.route_metrics(since_ns=T0 + 2 * MINUTE)] == [1]


def test_consumer_lag_is_the_latest_export_per_topic(store: TelemetryStore) -> None:
    def lag(at_ms: int, partition: int, value: float, topic: str = "orders.order-placed"
            ) -> MetricPoint:
        return MetricPoint(time_ns=T0 + at_ms * MS, service="payments",
                           name="lcdev.consumer.lag", kind="gauge", value=value,
                           attributes={"messaging.destination.name": topic,
                                       "messaging.destination.partition.id": str(partition)})

    store.write_spans([span("e" * 32, "a" * 16, "", "payments", "process orders.order-placed",
                            0, 1, "consumer",
                            messaging_destination_name="orders.order-placed")])
    assert store.write_metrics([lag(0, 0, 50), lag(0, 1, 50), lag(5000, 0, 3), lag(5000, 1, 4),
                                lag(5000, 0, 7, topic="payments.refunded")]) == 5
    rows = store.route_metrics()
    assert rows == [
        RouteMetrics("payments", "process orders.order-placed", "consumer", 1, 0,
                     rows[0].p50_ms, rows[0].p95_ms, rows[0].p99_ms, consumer_lag=7),
        RouteMetrics("payments", "process payments.refunded", "consumer", 0, 0, 0.0, 0.0, 0.0,
                     consumer_lag=7),
    ]
    assert store.route_metrics(service="orders") == []


def test_a_request_is_listed_by_what_was_asked_not_by_its_route_prefix(
    store: TelemetryStore,
) -> None:
    request = span("7" * 32, "a" * 16, "", "gateway", "POST /orders", 0, 10,
                   http_route="/orders", http_request_method="POST", url_path="/orders/orders")
    store.write_spans([replace(request, attributes={**request.attributes,
                                                    "http.response.status_code": 401})])
    store.write_spans([span("8" * 32, "b" * 16, "", "orders", "publish orders.placed", 5, 1,
                            "producer", url_path="/not/a/request")])
    roots = {t.trace_id[0]: (t.root_name, t.root_status)
             for t in store.list_traces(TraceQuery())}
    assert roots == {"7": ("POST /orders/orders", 401), "8": ("publish orders.placed", 0)}
