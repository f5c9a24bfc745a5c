"""Benchmark: the telemetry store — ingest through the writer, line parsing, query latency.

    .venv/bin/python benchmarks/bench_telemetry.py      # BENCH_LINES=1000000 BENCH_SPANS=100000

In a fresh store in a temp folder, with records generated beforehand (so that making them is
not measured):
- spans/s and log lines/s through ``TelemetryWriter`` (added in chunks of 1,000 as fast as the
  queue takes them, timed until the last batch committed), and how long the text index then
  took to catch up (lines are searchable meanwhile, by a scan of the unindexed ones);
- ``parse_line`` lines/s over a mix of JSON, uvicorn, PostgreSQL, Rust tracing and plain lines;
- query latencies from a read-only connection, as the CLI opens it: the median of several runs
  of each question, with every line and span stored.
Targets (DESIGN.md): ≥ 10k spans/s, ≥ 50k lines/s, queries < 200 ms.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lcdev.telemetry.logparse import parse_line  # noqa: E402
from lcdev.telemetry.records import LogRecord, MetricPoint, SpanRecord  # noqa: E402
from lcdev.telemetry.store import (  # noqa: E402
    LogQuery,
    StoreLimits,
    TelemetryStore,
    TelemetryWriter,
    TraceQuery,
)

LINES = int(os.environ.get("BENCH_LINES", "1000000"))
SPANS = int(os.environ.get("BENCH_SPANS", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SERVICES = ("gateway", "orders", "payments", "inventory", "postgres", "kafka")
WORDS = ("order", "payment", "created", "updated", "retry", "timeout", "connection", "pool",
         "customer", "invoice", "shipment", "warehouse", "reserved", "released", "accepted")
LEVELS = ("info",) * 85 + ("debug",) * 8 + ("warn",) * 5 + ("error",) * 2
T0 = time.time_ns() - 3600 * 10**9  # the data covers the last hour
CHUNK = 1000


def trace_ids(count: int, rng: random.Random) -> list[str]:
    return [f"{rng.getrandbits(128):032x}" for _ in range(count)]


def make_spans(count: int, traces: list[str], rng: random.Random) -> list[SpanRecord]:
    """Traces of five spans: gateway -> service -> SQL, publish, consume (1% fail)."""
    spans: list[SpanRecord] = []
    step = 3600 * 10**9 // max(1, len(traces))
    for index, trace_id in enumerate(traces):
        if len(spans) >= count:
            break
        start = T0 + index * step
        service = SERVICES[1 + index % 3]
        route = ("/orders", "/orders/{id}", "/payments")[index % 3]
        failed = index % 100 == 0
        ids = [f"{rng.getrandbits(64):016x}" for _ in range(5)]
        duration = int(rng.lognormvariate(15, 0.6))  # ~3 ms median
        shape: list[tuple[str, str, str, Any, dict[str, Any]]] = [
            ("gateway", f"GET {route}", "server", "", {"http.route": route}),
            (service, f"GET {route}", "server", 0, {"http.route": route}),
            (service, "SELECT orders", "client", 1, {"db.system": "postgresql"}),
            (service, "publish orders.order-placed", "producer", 1,
             {"messaging.destination.name": "orders.order-placed"}),
            ("payments", "process orders.order-placed", "consumer", 3,
             {"messaging.destination.name": "orders.order-placed"}),
        ]
        for position, (svc, name, kind, parent, attributes) in enumerate(shape):
            offset = position * duration // 10
            spans.append(SpanRecord(
                trace_id=trace_id, span_id=ids[position],
                parent_span_id="" if parent == "" else ids[parent], service=svc, name=name,
                kind=kind, start_ns=start + offset,  # type: ignore[arg-type]
                end_ns=start + offset + duration // (position + 1),
                status="error" if failed and position < 2 else "unset",
                attributes=attributes))
    return spans[:count]


def make_lines(count: int, traces: list[str], rng: random.Random) -> list[LogRecord]:
    pairs = [f"{a} {b}" for a in WORDS for b in WORDS]
    numbers = [rng.randrange(10**7) for _ in range(count)]
    chosen = rng.choices(range(len(pairs)), k=count)
    levels = rng.choices(LEVELS, k=count)
    step = 3600 * 10**9 // count
    lines: list[LogRecord] = []
    for index in range(count):
        number, words = numbers[index], pairs[chosen[index]]
        kind = index % 4
        if kind == 0:
            message = f"{words} id={number} in {number % 900} ms"
        elif kind == 1:
            message = f"statement: SELECT * FROM orders WHERE id = {number}"
        elif kind == 2:
            message = f'127.0.0.1:{number % 65535} - "GET /orders/{number} HTTP/1.1" 200'
        else:
            message = f"tansu::broker: {words} partition={number % 8} offset={number}"
        lines.append(LogRecord(T0 + index * step, SERVICES[index % 6], "stdout",
                               levels[index], message,  # type: ignore[arg-type]
                               traces[index % len(traces)] if kind == 0 else ""))
    return lines


def feed(writer: TelemetryWriter, records: Sequence[Any], add: Callable[[Any], None]) -> float:
    """Records/s from the first add to the last commit (the producer waits on a full queue)."""
    started = time.perf_counter()
    for start in range(0, len(records), CHUNK):
        while writer.stats().queued > writer.capacity // 2:
            time.sleep(0.001)
        add(records[start:start + CHUNK])
    if not writer.flush(timeout=300):
        raise SystemExit("writer did not finish")
    return len(records) / (time.perf_counter() - started)


def parse_rate(rng: random.Random) -> float:
    samples = [
        '{"time":"2026-11-22T16:00:00.123Z","level":"info","msg":"order created",'
        '"service":"orders","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
        '"span_id":"00f067aa0ba902b7","order_id":42}',
        'INFO:     127.0.0.1:53712 - "GET /orders/orders/42 HTTP/1.1" 200 OK',
        "2026-11-22 16:00:00.123 UTC [4242] LOG:  checkpoint starting: time",
        "2026-11-22T16:00:00.123456Z  INFO tansu::broker: produce topic=orders partition=0",
        "plain output of a code service without any level",
    ]
    lines = [rng.choice(samples) for _ in range(200_000)]
    started = time.perf_counter()
    for line in lines:
        parse_line("orders", "stdout", line, 0)
    return len(lines) / (time.perf_counter() - started)


def median_ms(run: Callable[[], object]) -> tuple[float, object]:
    timings, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def queries(store: TelemetryStore, traces: list[str], rare: str
            ) -> list[tuple[str, Callable[[], object]]]:
    window = (T0 + 1800 * 10**9, T0 + 1860 * 10**9)
    some_trace = traces[len(traces) // 2]
    return [
        ("newest 1000 lines", lambda: store.query_logs(LogQuery(newest_first=True))),
        ("lines of one trace", lambda: store.query_logs(LogQuery(trace_id=some_trace))),
        ("grep literal, rare", lambda: store.query_logs(LogQuery(
            grep=rare, newest_first=True, limit=100))),
        ("grep literal, common", lambda: store.query_logs(LogQuery(
            grep="shipment", newest_first=True, limit=100))),
        ("grep literal, absent", lambda: store.query_logs(LogQuery(grep="no such text here"))),
        ("grep regex with literal", lambda: store.query_logs(LogQuery(
            grep=r"offset=42\d{3}$", newest_first=True, limit=100))),
        ("grep (?i) alternation", lambda: store.query_logs(LogQuery(
            grep=r"(?i)(TIMEOUT|refused) id=77", newest_first=True, limit=100))),
        ("grep regex, no literal (scan)", lambda: store.query_logs(LogQuery(
            grep=r"\d{3}\s+ms$", newest_first=True, limit=100))),
        ("grep regex, no literal, no match", lambda: store.query_logs(LogQuery(
            grep=r"\d{8}$", newest_first=True, limit=100))),  # a scan of every line
        ("service + 1 min window", lambda: store.query_logs(LogQuery(
            services=("orders",), since_ns=window[0], until_ns=window[1]))),
        ("2 services, newest", lambda: store.query_logs(LogQuery(
            services=("orders", "payments"), newest_first=True))),
        ("min level error, newest", lambda: store.query_logs(LogQuery(
            min_level="error", newest_first=True))),
        ("follow: after_id, 1 service", lambda: store.query_logs(LogQuery(
            services=("kafka",), after_id=LINES - 5000))),
        ("list_traces", lambda: store.list_traces(TraceQuery())),
        ("list_traces errors + service", lambda: store.list_traces(TraceQuery(
            service="payments", errors_only=True))),
        ("list_traces slow > 20 ms", lambda: store.list_traces(TraceQuery(
            min_duration_ns=20_000_000))),
        ("get_trace by id", lambda: store.get_trace(some_trace)),
        ("get_trace by 8-char prefix", lambda: store.get_trace(some_trace[:8])),
        ("route_metrics", lambda: store.route_metrics()),
        ("stats", lambda: store.stats()),
    ]


def main() -> None:
    rng = random.Random(7)
    traces = trace_ids(max(1, SPANS // 5), rng)
    began = time.perf_counter()
    print(f"generating {SPANS:,} spans and {LINES:,} log lines ...", flush=True)
    spans = make_spans(SPANS, traces, rng)
    lines = make_lines(LINES, traces, rng)
    # The generated records are a benchmark artifact (a supervisor holds few records at a
    # time): keep the garbage collector from walking these millions of objects over and over.
    gc.freeze()
    lag = [MetricPoint(time_ns=T0, service="payments", name="lcdev.consumer.lag", kind="gauge",
                       value=3, attributes={"messaging.destination.name": "orders.order-placed"})]
    with tempfile.TemporaryDirectory(prefix="lcdev-bench-telemetry-") as folder:
        path = Path(folder) / "telemetry.db"
        writer = TelemetryWriter(path, StoreLimits(max_bytes=2 * 1024**3))
        writer.start()
        span_rate = feed(writer, spans, writer.add_spans)
        line_rate = feed(writer, lines, writer.add_logs)
        writer.add_metrics(lag)
        indexing = time.perf_counter()
        with TelemetryStore.open(path, readonly=True) as store:
            while store.stats().unindexed_logs:
                time.sleep(0.2)
        index_s = time.perf_counter() - indexing
        writer.close(timeout=30)
        print(f"ingest through TelemetryWriter: {span_rate:,.0f} spans/s (target ≥ 10,000), "
              f"{line_rate:,.0f} log lines/s (target ≥ 50,000)")
        print(f"text index caught up {index_s:.1f} s after the last line committed "
              f"({LINES / (LINES / line_rate + index_s):,.0f} lines/s stored and indexed)")
        print(f"parse_line: {parse_rate(rng):,.0f} lines/s")
        with TelemetryStore.open(path, readonly=True) as store:
            stats = store.stats()
            print(f"store: {stats.logs:,} lines, {stats.spans:,} spans, {stats.traces:,} traces, "
                  f"{stats.size_bytes / 2**20:.0f} MiB")
            print(f"query latency, median of {RUNS} (target < 200 ms):")
            rare = lines[LINES // 3 - (LINES // 3) % 4 + 1].message.rsplit("WHERE ", 1)[1]
            for label, run in queries(store, traces, rare):
                elapsed, result = median_ms(run)
                size = len(result) if isinstance(result, list) else "-"
                flag = "" if elapsed < 200 else "  <-- over target"
                print(f"  {label:34} {elapsed:8.1f} ms  ({size} rows){flag}")
    print(f"(benchmark took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
