"""Hot reload of a code service on the real native stack: saving its source starts a new
process, the gateway switches to it once it is ready, and the old one stops — requests going
through the gateway all the while never fail."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lcdev.core.layout import WorkspaceLayout
from tests.conftest import make_workspace, run_lcdev, status_json

pytestmark = pytest.mark.stack

APP = '''\
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = {version}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"version": VERSION, "pid": os.getpid()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
'''

SERVICE = """\
name: hello
version: 0.1.0
kind: process
process:
  command: {python} app.py
  health: /hello/health
  watch: ["*.py"]
"""


@dataclass
class Answer:
    sent: float
    status: int
    version: int | None


class Traffic(threading.Thread):
    """Requests through the gateway, one after another, until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[Answer] = []
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.halt.is_set():
                sent = time.time()
                try:
                    response = client.get(self.url)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                version = response.json().get("version") if response.is_success else None
                self.answers.append(Answer(sent, response.status_code, version))

    def first(self, version: int) -> Answer | None:
        return next((a for a in self.answers if a.version == version), None)


def test_saving_a_code_service_restarts_it_without_a_failed_request(open_tmp: Path) -> None:
    root = make_workspace(open_tmp, template="blank", name="codereload")
    folder = root / "services" / "hello"
    folder.mkdir(parents=True)
    source = folder / "app.py"
    source.write_text(APP.format(version=1))
    (folder / "service.yaml").write_text(SERVICE.replace("{python}", sys.executable))
    try:
        result = run_lcdev("up", "-d", "-w", str(root))
        assert result.returncode == 0, result.stderr
        status = status_json(root)
        old = next(c for c in status["components"] if c["name"] == "hello")
        traffic = Traffic(f"{status['gateway_url']}/hello/greet")
        traffic.start()
        try:
            time.sleep(0.3)
            assert traffic.first(1) is not None, traffic.errors
            source.write_text(APP.format(version=2))
            saved_at = source.stat().st_mtime
            deadline = time.monotonic() + 15
            while traffic.first(2) is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.5)  # and keep going after the old process stopped
        finally:
            traffic.halt.set()
            traffic.join(timeout=10)
        new_version = traffic.first(2)
        assert new_version is not None, "the new code never answered through the gateway"
        assert traffic.errors == []
        assert {a.status for a in traffic.answers} == {200}
        switched = traffic.answers.index(new_version)
        assert all(a.version == 2 for a in traffic.answers[switched:])  # no way back
        assert len(traffic.answers) > 20

        events = _history(root)
        assert [(e["name"], e["how"]) for e in events] == [("hello", "restarted")]
        event = events[0]
        assert event["paths"] == ["services/hello/app.py"]
        assert event["changes"] == ["source changed"]
        save_to_serving = new_version.sent - saved_at
        print(f"\ncode service: save → new code serving through the gateway "
              f"{save_to_serving * 1000:.0f} ms (first request seeing it); reported "
              f"{event['seconds'] * 1000:.0f} ms, timings {event['timings_ms']}")
        assert 0 < event["seconds"] < 5

        merged = run_lcdev("logs", "lcdev", "-w", str(root)).stdout
        assert "hello restarted in" in merged  # the supervisor's own line in the merged log

        now = next(c for c in status_json(root)["components"] if c["name"] == "hello")
        assert now["state"] == "healthy"
        assert now["pid"] != old["pid"]
        assert now["port"] != old["port"]  # lcdev picked the port: blue/green
    finally:
        run_lcdev("down", "-w", str(root))


def _history(root: Path) -> list[dict[str, object]]:
    path = WorkspaceLayout(root).reloads_file
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return [json.loads(line) for line in path.read_text().splitlines()]
