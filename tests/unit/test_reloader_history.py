"""The reload history file, and ``POST /v1/reload`` of the control API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from lcdev.backends.memory import InMemoryBackend
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ReloadStarted,
    ServiceReloaded,
    WorkspaceReloaded,
    event_from_dict,
)
from lcdev.supervisor.control import build_control_app
from lcdev.supervisor.reload_history import ReloadHistory
from tests.unit.memstack import run, supervisor_on


def test_only_outcomes_are_appended_one_json_line_each(tmp_path: Path) -> None:
    history = ReloadHistory(tmp_path / "telemetry" / "reloads.ndjson")
    events: list[Event] = [
        ReloadStarted(services=["orders"]),
        ServiceReloaded(name="orders", version_before="1.0.0", version_after="1.1.0",
                        seconds=0.05, timings_ms={"total": 50.0}),
        ReloadFailed(name="orders", reason="invalid", message="1 error",
                     problems=["services/orders/service.yaml:3:1: x"]),
        WorkspaceReloaded(needs_up=["gateway.port 1 → 2 needs `lcdev up` again"]),
    ]
    written = [history.append(event) for event in events]
    assert written == [False, True, True, True]
    lines = history.path.read_text().splitlines()
    assert [event_from_dict(json.loads(line)) for line in lines] == events[1:]


def test_trim_keeps_the_newest_lines(tmp_path: Path) -> None:
    history = ReloadHistory(tmp_path / "reloads.ndjson")
    assert history.trim(keep=3) == 0  # no file yet: nothing to do
    for number in range(10):
        history.append(ServiceReloaded(name=f"s{number}"))
    assert history.trim(keep=3) == 7
    names = [json.loads(line)["name"] for line in history.path.read_text().splitlines()]
    assert names == ["s7", "s8", "s9"]
    assert history.trim(keep=3) == 0
    assert list(tmp_path.iterdir()) == [history.path]  # no temporary file left behind


class _RecordedReloads:
    """A ``ReloadNow`` that answers like a reloader and remembers what it was asked."""

    def __init__(self, ready: bool = True) -> None:
        self.ready = ready
        self.asked: list[tuple[list[str], bool]] = []

    async def __call__(self, services: list[str], allow_destructive: bool
                       ) -> list[Event] | None:
        if not self.ready:
            return None
        self.asked.append((services, allow_destructive))
        return [ReloadStarted(services=services)] + [
            ServiceReloaded(name=name, how="swapped") for name in services]


def _post(tmp_path: Path, reloads: _RecordedReloads, *requests: dict[str, Any]
          ) -> list[httpx.Response]:
    """Send each request (``httpx`` keyword arguments) to a control app in this process."""
    supervisor = supervisor_on(tmp_path, InMemoryBackend())
    app = build_control_app(supervisor, dict, lambda wipe: None, reloads)

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://control") as client:
            return [await client.post("/v1/reload", **request) for request in requests]

    return run(scenario)


def test_reload_endpoint_runs_a_reload_and_answers_its_events(tmp_path: Path) -> None:
    reloads = _RecordedReloads()
    answer, empty = _post(tmp_path, reloads,
                          {"json": {"services": ["orders"], "allow_destructive": True}}, {})
    assert answer.status_code == 200
    body: list[dict[str, Any]] = answer.json()
    assert [(e["type"], e.get("name")) for e in body] == [
        ("ReloadStarted", None), ("ServiceReloaded", "orders")]
    assert empty.status_code == 200
    assert reloads.asked == [(["orders"], True), ([], False)]


def test_reload_endpoint_refuses_bad_bodies_and_an_unready_stack(tmp_path: Path) -> None:
    not_json, wrong, flag = _post(
        tmp_path, _RecordedReloads(),
        {"content": b"{oops", "headers": {"content-type": "application/json"}},
        {"json": {"services": "orders"}},
        {"json": {"services": [], "allow_destructive": "yes"}})
    assert [r.status_code for r in (not_json, wrong, flag)] == [400, 400, 400]
    assert "services" in wrong.json()["detail"]
    (early,) = _post(tmp_path, _RecordedReloads(ready=False), {"json": {"services": []}})
    assert early.status_code == 409
    assert "not ready" in early.json()["detail"]
