"""``lcdev.telemetry.sdk``: the OTel SDK set-up every lcdev process shares.

``setup_telemetry`` installs global providers, which can be set once per process, so each case
runs in a subprocess of its own, exporting to a real OTLP/HTTP endpoint of the test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lcdev.telemetry.otlp.decode import decode_traces
from tests.telemetry.otlp_endpoint import OtlpEndpoint
from tests.telemetry.test_export_json import Collector

PROGRAM = """
import json, os, sys, time
import lcdev.telemetry.sdk as sdk
imported = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
from opentelemetry import trace

telemetry = sdk.setup_telemetry(*sys.argv[1:])
same = sdk.setup_telemetry() is telemetry  # the providers are global: set once
outside = sdk.current_ids()
with telemetry.tracer.start_as_current_span("outer"):
    inside = sdk.current_ids()
    with trace.get_tracer("via.global").start_as_current_span("inner"):
        pass
telemetry.meter.create_counter("lcdev.test.requests").add(3)
started = time.perf_counter()
for number in range(int(os.environ.get("SPANS", "0"))):  # load while the exporter fails
    telemetry.tracer.start_span(f"load {number}").end()
    time.sleep(0.0005)
load_s = time.perf_counter() - started
if os.environ.get("NO_SHUTDOWN"):
    time.sleep(float(os.environ["NO_SHUTDOWN"]))
    print(json.dumps({"inside": inside}), flush=True)
    os._exit(0)  # no flush: only the processor's own schedule delivers
started = time.perf_counter()
flushed = telemetry.shutdown()
print(json.dumps({
    "imported": imported, "enabled": telemetry.enabled, "outside": outside, "inside": inside,
    "tracer": type(telemetry.tracer).__name__,
    "provider": type(trace.get_tracer_provider()).__name__,
    "flushed": flushed, "shutdown_s": time.perf_counter() - started, "load_s": load_s,
    "again": telemetry.shutdown(), "same": same,
}))
"""


def run(env: dict[str, str], *args: str, timeout: float = 30) -> tuple[dict[str, Any], str]:
    """Run PROGRAM with only ``env``'s OTEL settings; its JSON result, its stderr, and it
    must exit 0 (within ``timeout``, which includes the interpreter's exit)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LCDEV_"))}
    result = subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True,
                            text=True, timeout=timeout, env={**clean, **env}, check=False)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found, result.stderr


@pytest.fixture
def endpoint() -> Iterator[OtlpEndpoint]:
    server = OtlpEndpoint()
    yield server
    server.close()


def environment(url: str, **extra: str) -> dict[str, str]:
    """What the supervisor gives a service (docs/telemetry-internals.md)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "orders", "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop",
            "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_METRIC_EXPORT_INTERVAL": "5000", **extra}


def test_importing_the_module_loads_no_opentelemetry() -> None:
    found, _ = run({})
    assert found["imported"] == []


@pytest.mark.parametrize("env", [
    {},  # a service run by hand
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "LCDEV_TELEMETRY": "off"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT": "  "},
])
def test_without_an_endpoint_nothing_is_installed(env: dict[str, str]) -> None:
    found, stderr = run(env)
    assert found["enabled"] is False
    assert found["tracer"] == "NoOpTracer"
    assert found["provider"] == "ProxyTracerProvider"  # the global was left alone
    assert found["outside"] == found["inside"] == ["", ""]
    assert found["flushed"] is True
    assert stderr == ""


def test_spans_and_metrics_reach_the_endpoint_with_the_resource_from_the_environment(
    endpoint: OtlpEndpoint,
) -> None:
    found, stderr = run(environment(endpoint.url))
    assert found["enabled"] is True
    assert found["tracer"] != "NoOpTracer"
    assert found["provider"] == "TracerProvider"  # installed as the global
    assert found["flushed"] is True
    assert found["again"] is True
    assert found["same"] is True  # and no "Overriding of current TracerProvider" warning
    assert found["shutdown_s"] < 1.0
    assert found["outside"] == ["", ""]
    outer = endpoint.wait_span(lambda span: span.name == "outer", timeout=1)
    inner = endpoint.wait_span(lambda span: span.name == "inner", timeout=1)
    # current_ids() named the current span; the global tracer's span is its child
    assert found["inside"] == [outer.trace_id, outer.span_id]
    assert (inner.trace_id, inner.parent_span_id) == (outer.trace_id, outer.span_id)
    assert outer.resource["service.name"] == "orders"
    assert outer.resource["service.namespace"] == "shop"
    assert "lcdev.test.requests" in endpoint.metric_names  # flushed by the shutdown
    assert stderr == ""


def test_an_explicit_service_name_wins_over_the_environment(endpoint: OtlpEndpoint) -> None:
    run(environment(endpoint.url), "payments")
    assert endpoint.wait_span(lambda span: span.name == "outer", timeout=1
                              ).resource["service.name"] == "payments"


def test_the_batch_processor_follows_the_otel_bsp_settings(endpoint: OtlpEndpoint) -> None:
    # exits without a flush after 1 s: only a 50 ms schedule delay (not the SDK's default
    # 5 s) can have delivered the spans by then
    found, _ = run({**environment(endpoint.url, OTEL_BSP_SCHEDULE_DELAY="50"),
                    "NO_SHUTDOWN": "1"})
    outer = endpoint.wait_span(lambda span: span.name == "outer", timeout=0.5)
    assert found["inside"] == [outer.trace_id, outer.span_id]


def nothing_listens() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_endpoint_neither_blocks_nor_crashes_nor_floods_the_log() -> None:
    started = time.monotonic()
    found, stderr = run({**environment(nothing_listens(), OTEL_BSP_SCHEDULE_DELAY="20",
                                       OTEL_METRIC_EXPORT_INTERVAL="50"), "SPANS": "1000"})
    assert found["enabled"] is True
    assert found["load_s"] < 3.0  # making spans never waits for the exporter
    assert found["flushed"] is False  # it gave up flushing...
    assert found["shutdown_s"] < 2.5  # ...within the bound, not the exporter's 10 s retries
    assert time.monotonic() - started < 10  # and the process exited promptly
    # a batch every 20 ms failed (and metrics every 50 ms): one line per logger, not per batch
    assert len(stderr.splitlines()) <= 3, stderr


def test_a_receiver_that_never_answers_costs_a_bounded_shutdown() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        found, _ = run(environment(url))
        assert found["flushed"] is False
        assert found["shutdown_s"] < 2.5
        assert time.monotonic() - started < 10


# -- LCDEV_OTLP_ENCODING=json: lcdev's own processes send spans as OTLP/JSON -----------------

def test_with_json_encoding_spans_go_as_otlp_json_and_metrics_as_protobuf() -> None:
    collector = Collector()
    try:
        found, stderr = run({**environment(collector.url), "LCDEV_OTLP_ENCODING": "json"})
    finally:
        collector.close()
    assert (found["enabled"], found["flushed"], found["same"]) == (True, True, True)
    assert found["shutdown_s"] < 1.0
    sent = list(zip(collector.paths, collector.content_types, collector.bodies, strict=True))
    traces = [body for path, kind, body in sent if path == "/v1/traces"]
    assert traces
    assert {kind for path, kind, _ in sent if path == "/v1/traces"} == {"application/json"}
    assert {kind for path, kind, _ in sent if path == "/v1/metrics"} == {
        "application/x-protobuf"}  # metrics keep the standard exporter
    spans = {span.name: span for body in traces
             for span in decode_traces(body, "application/json")}
    outer, inner = spans["outer"], spans["inner"]
    assert found["inside"] == [outer.trace_id, outer.span_id]
    assert (inner.trace_id, inner.parent_span_id) == (outer.trace_id, outer.span_id)
    assert outer.service == "orders"
    assert stderr == ""


@pytest.mark.parametrize("encoding", ["", "protobuf"])
def test_without_json_encoding_spans_stay_protobuf(encoding: str) -> None:
    collector = Collector()
    try:
        run({**environment(collector.url), "LCDEV_OTLP_ENCODING": encoding})
    finally:
        collector.close()
    kinds = {kind for path, kind in zip(collector.paths, collector.content_types, strict=True)
             if path == "/v1/traces"}
    assert kinds == {"application/x-protobuf"}


def test_json_encoding_to_an_unreachable_endpoint_neither_blocks_nor_floods() -> None:
    started = time.monotonic()
    found, stderr = run({**environment(nothing_listens(), OTEL_BSP_SCHEDULE_DELAY="20",
                                       OTEL_METRIC_EXPORT_INTERVAL="50"),
                         "SPANS": "1000", "LCDEV_OTLP_ENCODING": "json"})
    assert found["enabled"] is True
    assert found["load_s"] < 3.0
    assert found["shutdown_s"] < 2.5
    assert time.monotonic() - started < 10
    assert "failed to export" in stderr  # it says so...
    assert len(stderr.splitlines()) <= 3, stderr  # ...once a minute per logger


def test_json_encoding_to_a_receiver_that_never_answers_costs_a_bounded_shutdown() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        found, _ = run({**environment(url), "LCDEV_OTLP_ENCODING": "json"})
        assert found["flushed"] is False
        assert found["shutdown_s"] < 2.5
        assert time.monotonic() - started < 10
