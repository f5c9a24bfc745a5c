"""Options and helpers shared by commands: finding the workspace, exit codes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from lcdev.cli import output
from lcdev.core.layout import find_workspace_root

__all__ = ["EXIT_FAILED", "EXIT_USAGE", "JsonOption", "WorkspaceOption", "abort", "resolve_root"]

EXIT_FAILED = 1
EXIT_USAGE = 2

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w",
        help="Workspace folder (default: the nearest folder upward holding lcdev.yaml).",
        envvar="LCDEV_WORKSPACE", show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def abort(message: str, hint: str = "", code: int = EXIT_FAILED) -> NoReturn:
    output.fail(message, hint)
    raise typer.Exit(code)


def resolve_root(workspace: Path | None) -> Path:
    """The workspace root, or a clear error saying how to get one."""
    if workspace is not None:
        root = workspace.expanduser().resolve()
        if not (root / "lcdev.yaml").is_file():
            abort(f"{root} is not a workspace (no lcdev.yaml)",
                  "create one with `lcdev init DIR --template shop`", EXIT_USAGE)
        return root
    found = find_workspace_root(Path(os.getcwd()))
    if found is None:
        abort("no lcdev.yaml here or in any parent folder",
              "run inside a workspace, pass --workspace DIR, or create one with "
              "`lcdev init DIR --template shop`", EXIT_USAGE)
    return found.resolve()
