"""``plan_stack``: ports, data dirs and routes decided before anything starts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, load_workspace
from lcdev.definitions.stack import StackDefinition
from lcdev.supervisor.ports import port_is_free
from lcdev.supervisor.resolve import PortConflict, StackPlan, load_stack, plan_stack
from tests.unit.conftest import make_workspace


@pytest.fixture
def blocker() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _load(root: Path) -> tuple[LoadedWorkspace, StackDefinition]:
    loaded = load_workspace(root)
    assert loaded.ok, loaded.problems
    assert loaded.workspace is not None
    stack, problems = load_stack(root, loaded.workspace.stack)
    assert stack is not None, problems
    return loaded, stack


def _plan(root: Path) -> StackPlan:
    loaded, stack = _load(root)
    return plan_stack(loaded, stack, WorkspaceLayout(root))


def test_port_zero_picks_distinct_free_ports(shop: Path) -> None:
    plan = _plan(shop)
    ports = {c.name: c.port for c in plan.components}
    assert list(ports)[:3] == ["postgres", "kafka", "gateway"]
    assert sorted(list(ports)[3:]) == ["inventory", "notifications", "orders", "payments"]
    assert all(port > 0 for port in ports.values())
    assert len(set(ports.values())) == 7
    assert all(port_is_free(port) for port in ports.values())


def test_configured_ports_are_used_as_given(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = int(probe.getsockname()[1])
    root = make_workspace(tmp_path, postgres_port=free)
    assert _plan(root).component("postgres").port == free


def test_components_get_their_own_data_dir_and_the_run_dir(shop: Path) -> None:
    plan = _plan(shop)
    layout = WorkspaceLayout(shop)
    kafka = plan.component("kafka")
    assert kafka.data_dir == layout.component_data("kafka")
    assert kafka.run_dir == layout.run_dir
    assert kafka.host == "127.0.0.1"
    assert not layout.state_dir.exists()  # planning creates nothing


def test_dependencies_and_service_routes_are_planned(shop: Path) -> None:
    plan = _plan(shop)
    services = ["inventory", "notifications", "orders", "payments"]
    assert plan.depends_on == {
        "postgres": [], "kafka": [], "gateway": [],
        **{name: ["postgres", "kafka"] for name in services},
    }
    assert sorted(str(r["service"]) for r in plan.routes) == services
    for route in plan.routes:
        port = plan.component(str(route["service"])).port
        assert route["upstream"] == f"http://127.0.0.1:{port}"
    assert all(str(r["prefix"]).startswith("/") for r in plan.routes)


def test_taken_component_port_names_its_setting(tmp_path: Path, blocker: int) -> None:
    root = make_workspace(tmp_path, kafka_port=blocker)
    with pytest.raises(PortConflict) as info:
        _plan(root)
    assert str(info.value).startswith(f"port {blocker} for kafka is already in use")
    assert "ports.kafka in lcdev.yaml" in info.value.hint
    assert "0 picks a free port" in info.value.hint


def test_taken_gateway_port_names_the_gateway_setting(tmp_path: Path, blocker: int) -> None:
    root = make_workspace(tmp_path, gateway_port=blocker)
    with pytest.raises(PortConflict) as info:
        _plan(root)
    assert str(info.value).startswith(f"port {blocker} for gateway is already in use")
    assert "gateway.port in lcdev.yaml" in info.value.hint


def test_blank_workspace_has_the_same_stack_and_no_routes(tmp_path: Path) -> None:
    plan = _plan(make_workspace(tmp_path, "blank"))
    assert [c.name for c in plan.components] == ["postgres", "kafka", "gateway"]
    assert plan.routes == []


def test_unknown_stack_is_a_problem_on_lcdev_yaml(shop: Path) -> None:
    stack, problems = load_stack(shop, "nonexistent")
    assert stack is None
    assert [str(p.relative_to(shop)) for p in problems] == [
        "lcdev.yaml:1:1: stack 'nonexistent' not found in stacks/ or lcdev's"
    ]


def test_two_components_on_one_port_are_a_conflict(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    root = make_workspace(tmp_path, kafka_port=port, gateway_port=port)
    with pytest.raises(PortConflict, match=str(port)):
        _plan(root)
