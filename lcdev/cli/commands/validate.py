"""``lcdev validate`` and ``lcdev schema``: check definitions, export their JSON Schemas."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from lcdev.cli import output
from lcdev.cli.common import JsonOption, WorkspaceOption, resolve_root

__all__ = ["schema", "validate"]


def validate(json_output: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Check lcdev.yaml and every service.yaml; report every problem at file:line:column.

    Exit 1 when there is any error (warnings alone exit 0).
    """
    from lcdev.definitions import load_workspace
    from lcdev.scaffolding.editor_schemas import write_editor_schemas

    root = resolve_root(workspace)
    loaded = load_workspace(root)
    write_editor_schemas(root)
    problems = [p.relative_to(root) for p in loaded.problems]
    errors = [p for p in problems if p.is_error]
    if json_output:
        output.print_json({
            "ok": not errors,
            "root": str(root),
            "services": sorted(loaded.services),
            "problems": [p.to_dict() for p in problems],
        })
    else:
        output.print_problems(problems)
        if errors:
            output.fail(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
        else:
            output.success(f"{len(loaded.services)} service(s) valid"
                           + (f", {len(problems)} warning(s)" if problems else ""))
    if errors:
        raise typer.Exit(1)


def schema(
    kind: Annotated[Literal["workspace", "service", "stack"], typer.Argument(
        help="Which file kind: workspace (lcdev.yaml), service (service.yaml) or stack.")
    ] = "service",
) -> None:
    """Print the JSON Schema of a definition file kind, for editors (see docs/editor-setup.md)."""
    from lcdev.definitions import service_json_schema, workspace_json_schema
    from lcdev.definitions.stack import StackDefinition

    if kind == "workspace":
        output.print_json(workspace_json_schema())
    elif kind == "service":
        output.print_json(service_json_schema())
    else:
        output.print_json(StackDefinition.model_json_schema())
