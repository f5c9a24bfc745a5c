"""``InMemoryBackend`` keeps the ``StackBackend`` contract the supervisor relies on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from lcdev.backends.base import ComponentHandle, ResolvedComponent
from lcdev.backends.errors import BackendError
from lcdev.backends.memory import InMemoryBackend
from lcdev.backends.probes import probe_once, wait_until_ready
from lcdev.definitions.stack import ComponentDefinition
from lcdev.supervisor.ports import free_port, port_is_free

T = TypeVar("T")


def _component(tmp_path: Path, probe: str = "tcp", name: str = "svc") -> ResolvedComponent:
    definition = ComponentDefinition.model_validate(
        {
            "port": 0,
            "readiness": {"probe": probe, "path": "/health", "timeout": 0.3},
            "native": {"driver": "command", "command": ["svc"]},
        }
    )
    return ResolvedComponent(
        name=name,
        definition=definition,
        port=free_port(),
        data_dir=tmp_path / "data" / name,
        run_dir=tmp_path / "run",
    )


def _run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(5):
            return await scenario()

    return asyncio.run(bounded())


class _Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, stream: str, text: str) -> None:
        self.lines.append((stream, text))


def test_launched_instance_listens_and_passes_the_tcp_probe(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    component = _component(tmp_path)
    sink = _Lines()

    async def scenario() -> ComponentHandle:
        await backend.prepare(component)
        handle = await backend.launch(component, sink)
        await wait_until_ready(component, handle)
        assert not port_is_free(component.port)
        await backend.stop(component, handle)
        return handle

    handle = _run(scenario)
    assert handle.ident == "mem 1"
    assert handle.pid is None
    assert handle.exited()
    assert port_is_free(component.port)
    assert backend.launches["svc"] == 1
    assert backend.stopped == ["svc"]
    assert sink.lines[0] == ("stdout", "svc: starting in memory (mem 1)")
    assert sink.lines[-1] == ("stdout", "svc: stopped (exit 0)")
    assert component.data_dir.is_dir()
    assert component.run_dir.is_dir()


def test_http_components_answer_200_to_any_request(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    component = _component(tmp_path, probe="http")

    async def scenario() -> int:
        handle = await backend.launch(component, _Lines())
        try:
            await probe_once(component)  # the real http probe: GET /health
            async with httpx.AsyncClient() as client:
                response = await client.post(f"http://127.0.0.1:{component.port}/x", json={})
            return response.status_code
        finally:
            await backend.stop(component, handle)

    assert _run(scenario) == 200
    assert backend.connection_url(component) == f"http://127.0.0.1:{component.port}"


def test_crash_makes_the_instance_exit_with_its_code(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    component = _component(tmp_path)
    sink = _Lines()

    async def scenario() -> int | None:
        handle = await backend.launch(component, sink)
        waiter = asyncio.ensure_future(handle.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        backend.crash("svc", 9)
        code = await waiter
        assert handle.exited()
        assert backend.running("svc") is None
        return code

    assert _run(scenario) == 9
    assert sink.lines[-1] == ("stderr", "svc: crashed (exit 9)")
    assert port_is_free(component.port)


def test_crash_without_a_running_instance_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no running in-memory instance of 'svc'"):
        InMemoryBackend().crash("svc")


def test_scripted_prepare_failure_is_raised(tmp_path: Path) -> None:
    error = BackendError("no binary", hint="install it")
    backend = InMemoryBackend(fail_prepare={"svc": error})
    with pytest.raises(BackendError) as info:
        _run(lambda: backend.prepare(_component(tmp_path)))
    assert info.value is error


@pytest.mark.parametrize("probe", ["sql", "kafka"])
def test_probes_it_cannot_answer_are_refused_at_prepare(tmp_path: Path, probe: str) -> None:
    with pytest.raises(BackendError, match=f"cannot answer the '{probe}' probe") as info:
        _run(lambda: InMemoryBackend().prepare(_component(tmp_path, probe=probe)))
    assert "tcp or http" in info.value.hint


def test_never_ready_instance_does_not_listen(tmp_path: Path) -> None:
    backend = InMemoryBackend(never_ready={"svc"})
    component = _component(tmp_path)

    async def scenario() -> None:
        handle = await backend.launch(component, _Lines())
        try:
            assert port_is_free(component.port)
            assert not handle.exited()
        finally:
            await backend.stop(component, handle)

    _run(scenario)


def test_taken_port_is_a_backend_error(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    component = _component(tmp_path)

    async def scenario() -> None:
        first = await backend.launch(component, _Lines())
        try:
            with pytest.raises(BackendError, match="could not run svc"):
                await backend.launch(component, _Lines())
        finally:
            await backend.stop(component, first)

    _run(scenario)
    assert backend.launches["svc"] == 2


def test_remove_data_deletes_the_data_dir(tmp_path: Path) -> None:
    backend = InMemoryBackend()
    component = _component(tmp_path)
    _run(lambda: backend.prepare(component))
    (component.data_dir / "file").write_text("x")
    _run(lambda: backend.remove_data(component))
    assert not component.data_dir.exists()
    _run(lambda: backend.remove_data(component))  # nothing left to remove is fine
