"""The gateway process exports its spans over OTLP, set up after it already answers.

``python -m lcdev.gateway`` runs as the supervisor runs it, with the ``OTEL_*`` environment
pointing at a real OTLP/HTTP endpoint of the test (``tests/telemetry/otlp_endpoint.py``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.gateway.conftest import Upstream, free_port, route
from tests.telemetry.otlp_endpoint import OtlpEndpoint


@pytest.fixture
def endpoint() -> Iterator[OtlpEndpoint]:
    server = OtlpEndpoint()
    yield server
    server.close()


class GatewayProcess:
    """``python -m lcdev.gateway`` on a free port; its stdout read as the supervisor reads it
    (all the time, in a thread: a full pipe would block the gateway), parsed as JSON lines."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LCDEV_"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lcdev.gateway", "--port", str(self.port),
             "--config", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**clean, **env})
        self.lines: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, parse), daemon=True)
                         for stream, parse in ((self.process.stdout, True),
                                               (self.process.stderr, False))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[bytes], parse: bool) -> None:
        for raw in stream:
            with self._changed:
                if parse:
                    self.lines.append(json.loads(raw))
                else:
                    self.stderr.append(raw.decode(errors="replace"))
                self._changed.notify_all()

    def wait_line(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if line["kind"] == kind]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                assert left > 0, f"no {kind} line; got {self.lines}, stderr {self.stderr}"
                self._changed.wait(left)

    def stop(self) -> float:
        """SIGTERM; how long it took to exit (asserting it exited 0)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)
        took = time.monotonic() - started
        self._close()
        assert self.process.returncode == 0, self.stderr
        return took

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close()

    def _close(self) -> None:
        for reader in self._readers:
            reader.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def run_gateway(tmp_path: Path, upstream: Upstream) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def run(**env: str) -> GatewayProcess:
        config = tmp_path / "gateway.json"
        config.write_text(json.dumps({"routes": [route("orders", "/orders", upstream.url)]}))
        gateway = GatewayProcess(config, env)
        started.append(gateway)
        gateway.wait_line("started")
        return gateway

    yield run
    for gateway in started:
        gateway.kill()


def otel_env(endpoint_url: str, **extra: str) -> dict[str, str]:
    """What the supervisor gives the gateway (docs/telemetry-internals.md)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_SERVICE_NAME": "gateway",
            "OTEL_RESOURCE_ATTRIBUTES": "service.namespace=shop", **extra}


def test_spans_are_exported_and_flushed_when_the_gateway_stops(
    run_gateway: Any, endpoint: OtlpEndpoint, upstream: Upstream,
) -> None:
    # a long schedule delay: only the flush at shutdown can deliver these spans
    gateway = run_gateway(**otel_env(endpoint.url, OTEL_BSP_SCHEDULE_DELAY="60000"))
    line = gateway.wait_line("telemetry")
    assert line["endpoint"] == endpoint.url
    callers = [(secrets.token_hex(16), secrets.token_hex(8)) for _ in range(3)]
    for trace_id, parent in callers:
        response = httpx.get(f"{gateway.url}/orders/{trace_id[:6]}",
                             headers={"traceparent": f"00-{trace_id}-{parent}-01"})
        assert response.status_code == 200
    assert gateway.stop() < 4.0  # spans were flushed before the process exited
    by_trace = {span.trace_id: span for span in endpoint.spans}
    for trace_id, parent in callers:
        span = by_trace[trace_id]
        assert span.name == "GET /orders"
        assert span.span.kind == span.span.SPAN_KIND_SERVER
        assert span.parent_span_id == parent
        assert span.attributes["http.response.status_code"] == 200
        assert span.attributes["url.path"] == f"/orders/{trace_id[:6]}"
        assert span.resource["service.name"] == "gateway"
        assert span.resource["service.namespace"] == "shop"
        # the service was told that the gateway's span is its parent
        forwarded = next(seen["traceparent"] for seen in upstream.seen
                         if trace_id in seen.get("traceparent", ""))
        assert forwarded == f"00-{trace_id}-{span.span_id}-01"
    logged = {line["trace_id"]: line["span_id"] for line in gateway.lines
              if line["kind"] == "access"}
    assert logged == {trace_id: by_trace[trace_id].span_id for trace_id, _ in callers}


def test_spans_arrive_while_the_gateway_runs(run_gateway: Any, endpoint: OtlpEndpoint) -> None:
    gateway = run_gateway(**otel_env(endpoint.url, OTEL_BSP_SCHEDULE_DELAY="50"))
    gateway.wait_line("telemetry")
    response = httpx.get(f"{gateway.url}/orders/1", headers={"x-request-id": "live-1"})
    access = gateway.wait_line("access")
    span = endpoint.wait_span(lambda s: s.attributes.get("url.path") == "/orders/1")
    assert response.headers["x-request-id"] == "live-1"
    assert (access["trace_id"], access["span_id"]) == (span.trace_id, span.span_id)


def test_an_unreachable_receiver_neither_slows_nor_stops_the_gateway(run_gateway: Any) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    gateway = run_gateway(**otel_env(nowhere, OTEL_BSP_SCHEDULE_DELAY="20"))
    gateway.wait_line("telemetry")
    with httpx.Client(base_url=gateway.url) as client:
        started = time.monotonic()
        for number in range(200):  # spans keep being exported (and failing) meanwhile
            assert client.get(f"/orders/{number}").status_code == 200
        assert time.monotonic() - started < 10
    assert gateway.stop() < 4.0  # the flush gives up: bounded, not the exporter's retries
    assert len(gateway.stderr) <= 3, gateway.stderr  # rate-limited, not one per batch


PROGRAM = """
import asyncio, json, sys
from pathlib import Path
from lcdev.gateway.server import GatewayServer
from lcdev.gateway.telemetry import BackgroundTelemetry

async def main():
    server = GatewayServer(Path(sys.argv[1]), log_stream=open("/dev/null", "wb"))
    await server.start()
    background = BackgroundTelemetry(server, asyncio.get_running_loop())
    background.start()
    await asyncio.to_thread(background.ready.wait, 10)
    await asyncio.sleep(0.05)  # let the loop run what the set-up scheduled
    traced = server.gateway.spans is not None
    await server.stop()
    background.shutdown()
    otel = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
    print(json.dumps({"traced": traced, "sdk": "opentelemetry.sdk" in otel, "otel": otel}))

asyncio.run(main())
"""


@pytest.mark.parametrize(("env", "traced"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "LCDEV_TELEMETRY": "off"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, True),
])
def test_without_an_endpoint_the_gateway_never_loads_opentelemetry(
    tmp_path: Path, env: dict[str, str], traced: bool,
) -> None:
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"routes": []}))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LCDEV_"))}
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(config)], capture_output=True,
                            text=True, timeout=60, env={**clean, **env}, check=True)
    found = json.loads(result.stdout)
    assert found["traced"] is traced
    assert found["sdk"] is traced
    if not traced:
        assert found["otel"] == []
