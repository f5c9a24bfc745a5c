"""``lcdev init``: create a workspace from a template in scaffolds/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from lcdev.cli import output
from lcdev.cli.common import EXIT_USAGE, abort

__all__ = ["init"]


def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")
                         ] = Path("."),
    template: Annotated[str, typer.Option("--template", "-t",
                        help="shop (four services talking through events) or blank.")
                        ] = "blank",
    name: Annotated[str | None, typer.Option(help="Workspace name (default: folder name).")
                    ] = None,
    gateway_port: Annotated[int, typer.Option(min=0, max=65535, help="Gateway port.")] = 8800,
    postgres_port: Annotated[int, typer.Option(
        min=0, max=65535, help="PostgreSQL port (0: pick one).")] = 15432,
    kafka_port: Annotated[int, typer.Option(
        min=0, max=65535, help="Kafka port (0: pick one).")] = 19092,
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
    list_templates: Annotated[bool, typer.Option("--list", help="List templates and exit.")
                              ] = False,
) -> None:
    """Create a workspace: lcdev.yaml, services/ and a .gitignore for .lcdev/."""
    from lcdev.scaffolding.editor_schemas import write_editor_schemas
    from lcdev.scaffolding.render import ScaffoldError, available_templates, render_workspace

    if list_templates:
        for item in available_templates():
            output.console.print(f"[bold]{item.name:<8}[/] {item.summary}")
        return
    target = directory.expanduser().resolve()
    workspace_name = name or re.sub(r"[^a-z0-9-]+", "-", target.name.lower()).strip("-")
    if not re.fullmatch(r"[a-z][a-z0-9-]*", workspace_name or ""):
        abort(f"'{workspace_name}' is not a valid workspace name",
              "use --name with lowercase letters, digits and dashes", EXIT_USAGE)
    variables = {"name": workspace_name, "gateway_port": gateway_port,
                 "postgres_port": postgres_port, "kafka_port": kafka_port}
    try:
        written = render_workspace(target, template, variables, force=force)
    except ScaffoldError as exc:
        abort(str(exc), code=EXIT_USAGE)
    write_editor_schemas(target)
    output.success(f"created workspace '{workspace_name}' in {target} "
                   f"({len(written)} files, template {template})")
    output.info(f"next: cd {directory} && lcdev up")
