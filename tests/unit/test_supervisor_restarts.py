"""``Supervisor`` driven on the ``InMemoryBackend``: crashes, restarts and exits before ready.

Components are asyncio "instances" listening on real ports, probed by the real readiness
probes (see ``memstack``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lcdev.backends.errors import BackendError
from lcdev.backends.memory import InMemoryBackend
from lcdev.core.events import (
    ComponentCrashed,
    ComponentFailed,
    ComponentRestarting,
    ComponentStarting,
    Event,
)
from lcdev.core.states import ComponentState
from lcdev.supervisor.supervisor import Supervisor
from tests.unit.memstack import POLICY, kinds, of, run, supervisor_on, until


def test_exit_before_ready_is_reported_with_its_code(tmp_path: Path) -> None:
    backend = InMemoryBackend(never_ready={"db"})
    supervisor = supervisor_on(tmp_path, backend)

    async def scenario() -> bool:
        start = asyncio.ensure_future(supervisor.start_all())
        await until(lambda: backend.launches["db"] == 1)
        backend.crash("db", 7)
        return await start

    assert run(scenario) is False
    failed = of(ComponentFailed, supervisor.bus.history())[0]
    assert failed.reason == "db: exited with code 7 before becoming ready"
    assert "db: crashed (exit 7)" in failed.last_lines


def test_crash_is_reported_then_restarted_with_backoff(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)
    broker = supervisor.runtimes["broker"]

    async def scenario() -> list[Event]:
        try:
            assert await supervisor.start_all()
            mark = len(supervisor.bus.history())
            backend.crash("broker", 3)
            await until(lambda: broker.restarts == 1 and broker.state == ComponentState.HEALTHY)
            return supervisor.bus.history()[mark:]
        finally:
            await supervisor.stop_all(remove_data=False)

    after_crash = run(scenario)
    assert kinds(after_crash)[:4] == [
        "ComponentCrashed:broker",
        "ComponentRestarting:broker",
        "ComponentStarting:broker",
        "ComponentReady:broker",
    ]
    crashed = of(ComponentCrashed, after_crash)[0]
    assert crashed.exit_code == 3
    assert crashed.restart_in == pytest.approx(POLICY.delay(1))
    assert crashed.last_lines[-1] == "broker: crashed (exit 3)"
    assert of(ComponentRestarting, after_crash)[0].attempt == 1
    assert of(ComponentStarting, after_crash)[0].attempt == 2
    assert backend.launches == {"db": 1, "broker": 2, "gateway": 1}


async def _crash_three_times(supervisor: Supervisor, backend: InMemoryBackend) -> None:
    """Crash ``db`` three times, each time as soon as it is healthy again."""
    db = supervisor.runtimes["db"]
    try:
        assert await supervisor.start_all()
        for count in (1, 2, 3):
            backend.crash("db", 1)

            def restarted(n: int = count) -> bool:
                return db.restarts == n and db.state == ComponentState.HEALTHY

            await until(restarted)
    finally:
        await supervisor.stop_all(remove_data=False)


def test_repeated_crashes_keep_counting_restarts(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)

    run(lambda: _crash_three_times(supervisor, backend))

    db = supervisor.runtimes["db"].to_dict()
    assert db["restarts"] == 3
    assert db["state"] == "stopped"
    assert backend.launches["db"] == 4
    assert len(of(ComponentCrashed, supervisor.bus.history())) == 3


def test_a_crash_loop_backs_off_exponentially(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)

    run(lambda: _crash_three_times(supervisor, backend))

    history = supervisor.bus.history()
    delays = [e.restart_in for e in of(ComponentCrashed, history)]
    assert delays == pytest.approx([POLICY.delay(1), POLICY.delay(2), POLICY.delay(3)])
    assert [e.attempt for e in of(ComponentRestarting, history)] == [1, 2, 3]


def test_failed_restart_is_retried_until_the_component_comes_back(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)
    db = supervisor.runtimes["db"]

    async def scenario() -> list[Event]:
        try:
            assert await supervisor.start_all()
            mark = len(supervisor.bus.history())
            backend.fail_prepare["db"] = BackendError("disk full")
            backend.crash("db", 1)
            await until(lambda: len(of(ComponentFailed, supervisor.bus.history())) >= 2)
            del backend.fail_prepare["db"]
            await until(lambda: db.state == ComponentState.HEALTHY)
            return supervisor.bus.history()[mark:]
        finally:
            await supervisor.stop_all(remove_data=False)

    after_crash = run(scenario)
    assert of(ComponentFailed, after_crash)[0].reason == "db: disk full"
    assert kinds(after_crash)[-1] == "ComponentReady:db"
    assert db.restarts >= 3
    assert backend.launches["db"] == 2


def test_restart_on_request_is_not_a_crash(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    supervisor = supervisor_on(tmp_path, backend)

    async def scenario() -> list[Event]:
        try:
            assert await supervisor.start_all()
            mark = len(supervisor.bus.history())
            await supervisor.restart("gateway")
            await asyncio.sleep(0.05)  # a watcher that misread the stop would report it now
            return supervisor.bus.history()[mark:]
        finally:
            await supervisor.stop_all(remove_data=False)

    after = run(scenario)
    assert kinds(after) == ["ComponentStarting:gateway", "ComponentReady:gateway"]
    assert supervisor.runtimes["gateway"].restarts == 1
    assert backend.launches["gateway"] == 2


