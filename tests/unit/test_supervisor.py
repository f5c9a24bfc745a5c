"""``Supervisor`` driven on the ``InMemoryBackend``: start order, start failures and stopping.

Components are asyncio "instances" listening on real ports, probed by the real readiness
probes (see ``memstack``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lcdev.backends.errors import BackendError
from lcdev.backends.memory import InMemoryBackend
from lcdev.core.events import (
    ComponentFailed,
    ComponentReady,
    Event,
    StackFailed,
    StackReady,
    StackStopped,
    StackStopping,
)
from lcdev.core.states import ComponentState
from lcdev.supervisor.ports import port_is_free
from tests.unit.memstack import NAMES, kinds, of, run, supervisor_on


def test_all_components_become_healthy_in_dependency_order(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)

    async def scenario() -> dict[str, Any]:
        try:
            ok = await supervisor.start_all()
            return {
                "ok": ok,
                "phase": supervisor.phase,
                "status": [r.to_dict() for r in supervisor.runtimes.values()],
                "ports_taken": [not port_is_free(c.port) for c in supervisor.plan.components],
            }
        finally:
            await supervisor.stop_all(remove_data=False)

    seen = run(scenario)
    assert seen["ok"] is True
    assert seen["phase"] == "ready"
    assert seen["ports_taken"] == [True, True, True]
    assert [s["state"] for s in seen["status"]] == ["healthy"] * 3
    assert [s["ident"] for s in seen["status"]] == ["mem 1", "mem 2", "mem 3"]
    assert [s["pid"] for s in seen["status"]] == [None] * 3
    history = supervisor.bus.history()
    assert kinds(history)[:7] == [
        "ComponentStarting:db", "ComponentReady:db",
        "ComponentStarting:broker", "ComponentReady:broker",
        "ComponentStarting:gateway", "ComponentReady:gateway",
        "StackReady",
    ]  # fmt: skip
    gateway = supervisor.plan.component("gateway")
    assert of(StackReady, history)[0].gateway_url == f"http://127.0.0.1:{gateway.port}"
    assert of(ComponentReady, history)[0].url == backend.connection_url(
        supervisor.plan.component("db")
    )
    assert backend.ready == NAMES  # after_ready ran once each, in order


class RecordingObserver:
    """An in-memory Observer (the telemetry store's role): what it heard, in order."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []
        self.events: list[str] = []

    def line(self, source: str, stream: str, text: str) -> None:
        self.lines.append((source, stream, text))

    def event(self, event: Event) -> None:
        self.events.append(type(event).__name__)


def test_output_lines_reach_the_bus_and_the_observer(tmp_path: Path) -> None:
    supervisor = supervisor_on(tmp_path, InMemoryBackend())
    observer = RecordingObserver()
    supervisor.observer = observer

    async def scenario() -> None:
        await supervisor.start_all()
        await supervisor.stop_all(remove_data=False)

    run(scenario)
    port = supervisor.plan.component("db").port
    lines = [e.text for e in supervisor.bus.log_tail("db")]
    assert f"db: listening on 127.0.0.1:{port}" in lines
    assert lines[-1] == "db: stopped (exit 0)"
    assert [text for source, _, text in observer.lines if source == "db"] == lines
    assert "LogLineEmitted" not in observer.events  # lines are heard once, as lines
    assert observer.events[-1] == "StackStopped"


def test_stop_all_stops_in_reverse_order_and_frees_every_port(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)

    async def scenario() -> None:
        assert await supervisor.start_all()
        await supervisor.stop_all(remove_data=False)

    run(scenario)
    assert backend.stopped == ["gateway", "broker", "db"]
    assert all(port_is_free(c.port) for c in supervisor.plan.components)
    assert supervisor.phase == "stopped"
    assert {r.state for r in supervisor.runtimes.values()} == {ComponentState.STOPPED}
    assert kinds(supervisor.bus.history())[-5:] == [
        "StackStopping",
        "ComponentStopped:gateway",
        "ComponentStopped:broker",
        "ComponentStopped:db",
        "StackStopped",
    ]
    assert not (tmp_path / ".lcdev" / "run" / "children.json").exists()
    assert (tmp_path / ".lcdev" / "data" / "db").is_dir()  # data survives a plain stop


def test_failed_prepare_fails_the_stack_and_stops_the_others(tmp_path: Path) -> None:
    error = BackendError("broker binary not found", hint="install tansu")
    backend = InMemoryBackend(fail_prepare={"broker": error})
    supervisor = supervisor_on(tmp_path, backend)

    ok = run(supervisor.start_all)

    assert ok is False
    assert supervisor.phase == "failed"
    history = supervisor.bus.history()
    assert kinds(history) == [
        "ComponentStarting:db",
        "ComponentReady:db",
        "ComponentStarting:broker",
        "ComponentFailed:broker",
        "StackFailed",
        "ComponentStopped:db",
    ]
    failed = of(ComponentFailed, history)[0]
    assert failed.reason == "broker: broker binary not found"
    assert failed.hint == "install tansu"
    assert of(StackFailed, history)[0].reason == "could not start broker"
    assert backend.stopped == ["db"]
    assert backend.launches == {"db": 1}  # the gateway was never launched
    assert supervisor.runtimes["broker"].last_error == "broker: broker binary not found"
    assert all(port_is_free(c.port) for c in supervisor.plan.components)


def test_never_ready_component_times_out_with_its_output(tmp_path: Path) -> None:
    backend = InMemoryBackend(never_ready={"broker"})
    supervisor = supervisor_on(tmp_path, backend)
    started = time.monotonic()

    ok = run(supervisor.start_all)

    assert ok is False
    assert time.monotonic() - started < 3
    failed = of(ComponentFailed, supervisor.bus.history())[0]
    assert failed.name == "broker"
    assert failed.reason.startswith("broker: not ready after ")
    assert "(last probe: ConnectionRefusedError" in failed.reason
    assert "broker: not listening (scripted never_ready)" in failed.last_lines
    assert backend.stopped == ["broker", "db"]  # its own instance first, then the rest


def test_readiness_timeout_message_shows_sub_second_timeouts(tmp_path: Path) -> None:
    supervisor = supervisor_on(tmp_path, InMemoryBackend(never_ready={"db"}))
    assert run(supervisor.start_all) is False
    failed = of(ComponentFailed, supervisor.bus.history())[0]
    assert "not ready after 0.5s" in failed.reason


def test_stop_all_with_remove_data_deletes_every_data_dir(tmp_path: Path) -> None:
    supervisor = supervisor_on(tmp_path, InMemoryBackend())
    data = tmp_path / ".lcdev" / "data"

    async def scenario() -> list[Path]:
        assert await supervisor.start_all()
        (data / "db" / "PG_VERSION").write_text("16\n")
        present = sorted(data.iterdir())
        await supervisor.stop_all(remove_data=True)
        return present

    assert run(scenario) == [data / "broker", data / "db", data / "gateway"]
    assert not data.exists()
    history = supervisor.bus.history()
    assert of(StackStopping, history)[0].remove_data is True
    assert of(StackStopped, history)[0].removed_data is True
