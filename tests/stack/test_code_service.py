"""A hand-written code service (`kind: process`) runs under the supervisor beside the stack
and is reachable through the gateway; a crash is restarted like any component."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from lcdev.core.layout import WorkspaceLayout
from lcdev.telemetry.store import TelemetryStore
from tests.conftest import make_workspace, run_lcdev, status_json

pytestmark = pytest.mark.stack

APP = '''\
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A plainly instrumented service: the SDK's defaults read the OTEL_* environment lcdev gives it
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("hello")

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        parent = TraceContextTextMapPropagator().extract(dict(self.headers))
        with tracer.start_as_current_span("greet", context=parent, kind=trace.SpanKind.SERVER):
            self.answer()

    def answer(self):
        body = json.dumps({"path": self.path, "greeting": os.environ["GREETING"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("hello:", fmt % args, flush=True)

print("hello service listening", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''

SERVICE = """\
name: hello
version: 0.1.0
kind: process
process:
  command: {python} app.py
  health: /hello/health
  env:
    GREETING: "${secrets.greeting}"
"""


def test_code_service_behind_the_gateway_with_secrets_and_restarts(open_tmp: Path) -> None:
    root = make_workspace(open_tmp, template="blank", name="codeplace")
    folder = root / "services" / "hello"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(APP)
    (folder / "service.yaml").write_text(SERVICE.replace("{python}", sys.executable))
    with (root / "lcdev.yaml").open("a") as config:
        config.write('secrets:\n  greeting: {env: HELLO_GREETING, default: "hi there"}\n')
    try:
        result = run_lcdev("up", "-d", "-w", str(root))
        assert result.returncode == 0, result.stderr
        status = status_json(root)
        answer = httpx.get(f"{status['gateway_url']}/hello/anything?x=1", timeout=5)
        assert answer.status_code == 200
        assert answer.json() == {"path": "/hello/anything?x=1", "greeting": "hi there"}
        assert "hello service listening" in run_lcdev("logs", "hello", "-w", str(root)).stdout
        _assert_traced_through_the_gateway(root, status["gateway_url"])

        hello = next(c for c in status["components"] if c["name"] == "hello")
        os.kill(hello["pid"], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = next(c for c in status_json(root)["components"] if c["name"] == "hello")
            if now["state"] == "healthy" and now["pid"] != hello["pid"]:
                break
            time.sleep(0.1)
        assert now["restarts"] == 1
        assert httpx.get(f"{status['gateway_url']}/hello/again", timeout=5).status_code == 200
    finally:
        run_lcdev("down", "-w", str(root))


def _assert_traced_through_the_gateway(root: Path, gateway_url: str) -> None:
    """The code service's own span joins the gateway's trace, with no set-up in the service."""
    trace_id = secrets.token_hex(16)
    answer = httpx.get(f"{gateway_url}/hello/traced", timeout=5,
                       headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    assert answer.status_code == 200
    deadline = time.monotonic() + 15
    names: set[tuple[str, str]] = set()
    while time.monotonic() < deadline:
        with TelemetryStore.open(WorkspaceLayout(root).telemetry_db, readonly=True) as store:
            detail = store.get_trace(trace_id)
        spans = detail.spans if detail else []
        names = {(s.service, s.name) for s in spans}
        if ("hello", "greet") in names and any(s.service == "gateway" for s in spans):
            gateway = next(s for s in spans if s.service == "gateway")
            greet = next(s for s in spans if s.service == "hello")
            assert greet.parent_span_id == gateway.span_id
            return
        time.sleep(0.2)
    raise AssertionError(f"the code service's span never arrived; spans: {sorted(names)}")
