"""From definitions to runnable components: the stack file, ports, data dirs, gateway routes.

Everything ``up`` decides before launching anything lives here, so a bad stack file, a clash
of ports or a port already taken is reported before a single process starts.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lcdev.backends.base import BackendError, ResolvedComponent
from lcdev.backends.native.postgres import DATABASE, SUPERUSER
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, Problem, ServiceDefinition, load_model
from lcdev.definitions.stack import (
    ComponentDefinition,
    NativeRecipe,
    Readiness,
    StackDefinition,
    bundled_stacks_dir,
)
from lcdev.gateway.config import build_gateway_config, write_config
from lcdev.supervisor.ports import free_port, port_holder, port_is_free

__all__ = [
    "PortConflict",
    "StackPlan",
    "build_gateway_file",
    "find_stack_file",
    "gateway_component",
    "load_stack",
    "plan_service",
    "plan_stack",
    "with_route",
    "write_gateway_config",
]


_SECRET_REF = re.compile(r"\$\{secrets\.([A-Za-z0-9_]+)\}")


class PortConflict(BackendError):
    """A port the stack needs is taken by another program."""


@dataclass(frozen=True)
class StackPlan:
    """The components to run, in file order, and the routes the gateway serves."""

    components: list[ResolvedComponent]
    depends_on: dict[str, list[str]]
    routes: list[dict[str, object]] = field(default_factory=list)

    def component(self, name: str) -> ResolvedComponent:
        return next(c for c in self.components if c.name == name)


def find_stack_file(root: Path, name: str) -> Path | None:
    """``stacks/<name>.yaml`` in the workspace first, then the stacks shipped with lcdev."""
    for directory in (root / "stacks", bundled_stacks_dir()):
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    return None


def load_stack(root: Path, name: str) -> tuple[StackDefinition | None, list[Problem]]:
    path = find_stack_file(root, name)
    if path is None:
        where = root / "lcdev.yaml"
        return None, [Problem(where, 1, 1, f"stack '{name}' not found in stacks/ or lcdev's")]
    return load_model(path, StackDefinition, root=root)


def plan_stack(
    loaded: LoadedWorkspace,
    stack: StackDefinition,
    layout: WorkspaceLayout,
    allow_destructive: frozenset[str] = frozenset(),
) -> StackPlan:
    """Decide ports and directories for the stack and the services; raise ``PortConflict``
    if a port is taken or given twice, ``BackendError`` if services need what the stack lacks."""
    workspace = loaded.workspace
    assert workspace is not None
    ports = _PortBook()
    components: list[ResolvedComponent] = []
    for name, definition in stack.components.items():
        if definition.port == "workspace":
            port, setting = workspace.gateway.port, "gateway.port"
        else:
            port, setting = workspace.ports.get(name, definition.port), f"ports.{name}"
        components.append(
            ResolvedComponent(
                name=name, definition=definition, port=ports.take(port, name, setting),
                data_dir=layout.component_data(name), run_dir=layout.run_dir,
            )
        )
    depends = {name: list(d.depends_on) for name, d in stack.components.items()}
    infra = {c.name: c for c in components}
    for service in loaded.services.values():
        if service.name in infra:
            raise BackendError(
                f"service '{service.name}' has the name of a stack component",
                hint="rename the service (its folder and `name:`)",
            )
        component = _service_component(service, loaded, layout, infra, ports)
        if service.name in allow_destructive:
            component.args.append("--allow-destructive")
        components.append(component)
        depends[service.name] = list(component.definition.depends_on)
    routes: list[dict[str, object]] = [
        {"service": c.name, "prefix": loaded.services[c.name].route,
         "upstream": f"http://{c.host}:{c.port}"}
        for c in components if c.kind == "service"
    ]
    return StackPlan(components=components, depends_on=depends, routes=routes)


def plan_service(
    service: ServiceDefinition, loaded: LoadedWorkspace, layout: WorkspaceLayout, plan: StackPlan
) -> ResolvedComponent:
    """Plan one service while the stack runs: a new service folder, or a new instance of a code
    service. Ports of the running components are avoided; a fixed port the service itself
    holds is kept (its old instance stops first). Raises like ``plan_stack``."""
    ports = _PortBook({c.port: c.name for c in plan.components})
    infra = {c.name: c for c in plan.components if c.kind == "infra"}
    return _service_component(service, loaded, layout, infra, ports)


def with_route(component: ResolvedComponent, service: ServiceDefinition) -> ResolvedComponent:
    """A low-code service's component after a swap moved its route: same process and port,
    readiness probed under the new route (what a crash restart will wait for)."""
    readiness = component.definition.readiness.model_copy(
        update={"path": f"{service.route}/_lcdev/health"}
    )
    definition = component.definition.model_copy(update={"readiness": readiness})
    return dataclasses.replace(component, definition=definition)


class _PortBook:
    """Ports decided so far: a port given twice or taken by another program is refused.
    ``owners`` seeds the ports already in use (by a running stack); a component asking again
    for the port it owns gets it back."""

    def __init__(self, owners: dict[int, str] | None = None) -> None:
        self._owners: dict[int, str] = dict(owners or {})

    def take(self, port: int, name: str, setting: str) -> int:
        if port != 0 and self._owners.get(port) == name:
            return port
        if port == 0:
            port = free_port()
            while port in self._owners:
                port = free_port()
        elif port in self._owners:
            raise PortConflict(
                f"port {port} is given to both {self._owners[port]} and {name}",
                hint=f"change {setting} in lcdev.yaml (0 picks a free port)",
            )
        elif not port_is_free(port):
            holder = port_holder(port)
            by = f" by {holder}" if holder else ""
            raise PortConflict(
                f"port {port} for {name} is already in use{by}",
                hint=f"stop that program, or set {setting} in lcdev.yaml (0 picks a free port)",
            )
        self._owners[port] = name
        return port


def _service_component(
    service: ServiceDefinition,
    loaded: LoadedWorkspace,
    layout: WorkspaceLayout,
    infra: dict[str, ResolvedComponent],
    ports: _PortBook,
) -> ResolvedComponent:
    folder = loaded.service_dirs.get(service.name, layout.root / "services" / service.name)
    if service.kind == "process":
        return _process_component(service, loaded, layout, folder, ports)
    missing = [name for name in ("postgres", "kafka") if name not in infra]
    if missing:
        raise BackendError(
            f"low-code service '{service.name}' needs the stack components {missing}",
            hint="use a stack with postgres and kafka (stacks/default.yaml)",
        )
    port = ports.take(0, service.name, f"services/{service.name}")
    postgres, kafka = infra["postgres"], infra["kafka"]
    definition = ComponentDefinition(
        description=service.description or "",
        port=port,
        depends_on=["postgres", "kafka"],
        readiness=Readiness(probe="http", path=f"{service.route}/_lcdev/health", timeout=60),
        native=NativeRecipe(driver="lowcode"),
    )
    args = [
        "--workspace", str(layout.root), "--service", service.name,
        "--host", "127.0.0.1", "--port", str(port),
        "--dsn", f"postgresql://{SUPERUSER}@{postgres.host}:{postgres.port}/{DATABASE}",
        "--kafka", f"{kafka.host}:{kafka.port}",
    ]
    return ResolvedComponent(
        name=service.name, definition=definition, port=port,
        data_dir=layout.component_data(service.name), run_dir=layout.run_dir,
        args=args, cwd=folder, kind="service",
    )


def _process_component(
    service: ServiceDefinition,
    loaded: LoadedWorkspace,
    layout: WorkspaceLayout,
    folder: Path,
    ports: _PortBook,
) -> ResolvedComponent:
    spec = service.process
    assert spec is not None
    port = ports.take(spec.port or 0, service.name, f"process.port of {service.name}")
    secrets = loaded.workspace.secrets if loaded.workspace else {}
    env = {"PORT": str(port)}
    for key, value in spec.env.items():
        env[key] = _SECRET_REF.sub(
            lambda m: (secrets[m.group(1)].resolve(layout.root) or "")
            if m.group(1) in secrets else m.group(0),
            value,
        )
    readiness = (
        Readiness(probe="http", path=spec.health, timeout=60)
        if spec.health else Readiness(probe="tcp", timeout=60)
    )
    definition = ComponentDefinition(
        description=service.description or "", port=port, readiness=readiness,
        native=NativeRecipe(driver="command", command=list(spec.command)),
    )
    return ResolvedComponent(
        name=service.name, definition=definition, port=port,
        data_dir=layout.component_data(service.name), run_dir=layout.run_dir,
        env=env, cwd=(folder / spec.cwd).resolve(), kind="service",
    )


def gateway_component(plan: StackPlan) -> ResolvedComponent | None:
    """The stack's gateway (the component running ``lcdev.gateway``), if it has one."""
    for component in plan.components:
        if component.definition.native.module == "lcdev.gateway":
            return component
    return None


def build_gateway_file(
    plan: StackPlan, loaded: LoadedWorkspace, generation: int = 0
) -> tuple[Path, dict[str, Any]] | None:
    """Where the gateway reads its configuration and what it should hold: a route for every
    service of ``loaded``, to the port its component listens on now (the plan changes while
    the stack runs: services start, stop and move to new ports)."""
    assert loaded.workspace is not None
    gateway = gateway_component(plan)
    if gateway is None:
        return None
    upstreams: dict[str, str | None] = {
        c.name: f"http://{c.host}:{c.port}" for c in plan.components if c.kind == "service"
    }
    config = build_gateway_config(
        loaded.workspace, loaded.services, upstreams, loaded.root,
        public_url=f"http://{gateway.host}:{gateway.port}", generation=generation,
    )
    return gateway.run_dir / f"{gateway.name}.json", config


def write_gateway_config(plan: StackPlan, loaded: LoadedWorkspace, generation: int = 0) -> None:
    """The gateway reads its routes and policies from ``run/gateway.json`` (data, not code;
    written atomically, and re-read by the gateway when it changes or on SIGHUP)."""
    built = build_gateway_file(plan, loaded, generation)
    if built is not None:
        write_config(*built)
