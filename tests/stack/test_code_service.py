"""A hand-written code service (`kind: process`) runs under the supervisor beside the stack
and is reachable through the gateway; a crash is restarted like any component."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_workspace, run_lcdev, status_json

pytestmark = pytest.mark.stack

APP = '''\
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
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
  command: python3 app.py
  health: /hello/health
  env:
    GREETING: "${secrets.greeting}"
"""


def test_code_service_behind_the_gateway_with_secrets_and_restarts(open_tmp: Path) -> None:
    root = make_workspace(open_tmp, template="blank", name="codeplace")
    folder = root / "services" / "hello"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(APP)
    (folder / "service.yaml").write_text(SERVICE)
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
