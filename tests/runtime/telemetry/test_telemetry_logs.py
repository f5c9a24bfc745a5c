"""JSON log lines: the formatter, and a real service process (``python -m lcdev.runtime``) whose
every output line is a JSON object — with the trace ids of the request when telemetry is on
(its spans then reach an OTLP endpoint, flushed when it stops), and, when it is off, the
caller's traceparent still carried verbatim to the events it publishes."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lcdev.runtime.observability.logs import JsonLogFormatter, level_name
from tests.runtime.telemetry.workspace import (
    TRACE_ID,
    TRACEPARENT,
    Names,
    drop_schemas,
    write_workspace,
)

REPO = Path(__file__).resolve().parents[3]


def _logger(stream: io.StringIO) -> logging.Logger:
    logger = logging.getLogger(f"lcdev.test.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter("orders"))
    logger.addHandler(handler)
    return logger


def test_a_log_line_is_one_json_object_with_the_ids_of_the_current_span(
        spans: InMemorySpanExporter) -> None:
    stream = io.StringIO()
    log = _logger(stream)
    log.warning("outside %s", "any span", extra={"fields": {"attempt": 2, "level": "x"}})
    with trace.get_tracer("test").start_as_current_span("request") as span:
        try:
            raise ValueError("bad value")
        except ValueError:
            log.exception("it failed")
    outside, inside = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert outside["level"] == "warn"
    assert outside["msg"] == "outside any span"
    assert outside["service"] == "orders"
    assert outside["attempt"] == 2  # extra fields join the object, core keys stay
    assert "trace_id" not in outside
    when = dt.datetime.fromisoformat(outside["time"].replace("Z", "+00:00"))
    assert outside["time"].endswith("Z")
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert inside["level"] == "error"
    assert inside["msg"].startswith("it failed\nTraceback")
    assert "ValueError: bad value" in inside["msg"]


@pytest.mark.parametrize(("levelno", "name"), [
    (5, "trace"), (logging.DEBUG, "debug"), (logging.INFO, "info"), (25, "info"),
    (logging.WARNING, "warn"), (logging.ERROR, "error"), (logging.CRITICAL, "fatal"),
])
def test_logging_levels_map_to_lcdev_levels(levelno: int, name: str) -> None:
    assert level_name(levelno) == name


# --- a real service process ---------------------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that keeps what it is sent."""

    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def _otlp_sink() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    received: list[tuple[str, bytes]] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _service(root: Path, names: Names, dsn: str, bootstrap: str, env: dict[str, str],
             ) -> Iterator[tuple[httpx.Client, list[Any]]]:
    """The producer as its own process; yields a client and, once it stopped (SIGTERM, exit
    0 checked), the JSON objects it printed."""
    port = _free_port()
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("OTEL_") and k != "LCDEV_TELEMETRY"}
    process = subprocess.Popen(
        [sys.executable, "-m", "lcdev.runtime", "--workspace", str(root), "--service",
         names.producer, "--port", str(port), "--dsn", dsn, "--kafka", bootstrap],
        cwd=REPO, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    printed: list[Any] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get(f"/{names.producer}/_lcdev/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the service did not get healthy"
                time.sleep(0.05)
            yield client, printed
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
    assert err.decode().strip() == ""  # everything is said on stdout, as JSON lines
    printed.extend(orjson.loads(line) for line in out.decode().splitlines())


def _outbox_headers(dsn: str, schema: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        conn = await asyncpg.connect(dsn)
        try:
            raw = await conn.fetchval(f'SELECT headers::text FROM "{schema}".lcdev_outbox')
        finally:
            await conn.close()
        found: dict[str, str] = orjson.loads(raw)
        return found

    return asyncio.run(read())


def test_a_service_without_telemetry_prints_json_lines_and_carries_the_traceparent(
        tmp_path: Path, pg_dsn: str, kafka_bootstrap: str) -> None:
    names = write_workspace(tmp_path)
    try:
        with _service(tmp_path, names, pg_dsn, kafka_bootstrap, {}) as (client, printed):
            created = client.post(f"/{names.producer}/orders", json={"total": "3.00"},
                                  headers={"traceparent": TRACEPARENT, "tracestate": "lc=1"})
            assert created.status_code == 201
            assert client.post(f"/{names.producer}/boom", json={},
                               headers={"traceparent": TRACEPARENT}).status_code == 500
        # No span was made, so the caller's context is stored exactly as it came.
        assert _outbox_headers(pg_dsn, names.producer) == {"traceparent": TRACEPARENT,
                                                           "tracestate": "lc=1"}
    finally:
        asyncio.run(drop_schemas(pg_dsn, names))
    assert all({"time", "level", "msg", "service"} <= set(line) for line in printed)
    assert all(line["service"] == names.producer for line in printed)
    [started] = [line for line in printed if line["msg"] == "started"]
    assert started["level"] == "info"
    assert started["tracing"] is False
    [failure] = [line for line in printed if line["level"] == "error"]
    assert "RuntimeError: kaboom" in failure["msg"]
    assert "trace_id" not in failure  # no span without telemetry


def test_a_service_with_telemetry_exports_its_spans_and_logs_with_their_trace_ids(
        tmp_path: Path, pg_dsn: str, kafka_bootstrap: str) -> None:
    names = write_workspace(tmp_path)
    try:
        with _otlp_sink() as (endpoint, received):
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                   "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                   "OTEL_BSP_SCHEDULE_DELAY": "5000"}  # only the flush at exit sends them
            with _service(tmp_path, names, pg_dsn, kafka_bootstrap, env) as (client, printed):
                assert client.post(f"/{names.producer}/boom", json={},
                                   headers={"traceparent": TRACEPARENT}).status_code == 500
            traces = [body for path, body in received if path == "/v1/traces"]
    finally:
        asyncio.run(drop_schemas(pg_dsn, names))
    [started] = [line for line in printed if line["msg"] == "started"]
    assert started["tracing"] is True
    [failure] = [line for line in printed if line["level"] == "error"]
    assert failure["trace_id"] == TRACE_ID  # the caller's trace
    exported = []
    for body in traces:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                exported += [(service["service.name"], s.name, s.trace_id.hex(), s.span_id.hex())
                             for s in scope.spans]
    server = [s for s in exported if s[1] == f"POST /{names.producer}/boom"]
    assert server == [(names.producer, f"POST /{names.producer}/boom", TRACE_ID,
                       failure["span_id"])]
