"""From definitions to runnable components: the stack file, ports, data dirs, gateway routes.

Everything ``up`` decides before launching anything lives here, so a bad stack file, a clash
of ports or a port already taken is reported before a single process starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lcdev.backends.base import BackendError, ResolvedComponent
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, Problem, load_model
from lcdev.definitions.stack import StackDefinition, bundled_stacks_dir
from lcdev.supervisor.ports import free_port, port_holder, port_is_free

__all__ = ["PortConflict", "StackPlan", "find_stack_file", "load_stack", "plan_stack"]


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
    loaded: LoadedWorkspace, stack: StackDefinition, layout: WorkspaceLayout
) -> StackPlan:
    """Decide ports and directories; raise ``PortConflict`` if a port is taken."""
    workspace = loaded.workspace
    assert workspace is not None
    components: list[ResolvedComponent] = []
    for name, definition in stack.components.items():
        if definition.port == "workspace":
            port = workspace.gateway.port
        else:
            port = workspace.ports.get(name, definition.port)
        if port == 0:
            port = free_port()
        elif not port_is_free(port):
            holder = port_holder(port)
            by = f" by {holder}" if holder else ""
            setting = "gateway.port" if definition.port == "workspace" else f"ports.{name}"
            raise PortConflict(
                f"port {port} for {name} is already in use{by}",
                hint=f"stop that program, or set {setting} in lcdev.yaml (0 picks a free port)",
            )
        components.append(
            ResolvedComponent(
                name=name,
                definition=definition,
                port=port,
                data_dir=layout.component_data(name),
                run_dir=layout.run_dir,
            )
        )
    routes: list[dict[str, object]] = [
        {"service": service.name, "prefix": service.route, "upstream": None}
        for service in loaded.services.values()
    ]
    depends = {name: list(d.depends_on) for name, d in stack.components.items()}
    return StackPlan(components=components, depends_on=depends, routes=routes)


def write_gateway_config(plan: StackPlan, workspace_name: str) -> None:
    """The gateway reads its routes from ``run/gateway.json`` (data, not code)."""
    for component in plan.components:
        if component.definition.native.module == "lcdev.gateway":
            config = {"workspace": workspace_name, "routes": plan.routes}
            path = component.run_dir / f"{component.name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(config, indent=2))
