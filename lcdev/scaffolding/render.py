"""Rendering workspace templates from ``scaffolds/`` with Jinja2.

A template is a folder ``scaffolds/workspace-<name>/``. Files ending in ``.jinja`` are rendered
(and lose the suffix); everything else is copied as is. Rendering never overwrites an existing
file unless asked to.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

__all__ = ["ScaffoldError", "available_templates", "render_workspace", "scaffolds_dir"]


class ScaffoldError(RuntimeError):
    """The template is unknown or the target cannot be written."""


@dataclass(frozen=True)
class Template:
    """A workspace template and its one-line description (first line of its README)."""

    name: str
    path: Path
    summary: str


def scaffolds_dir() -> Path:
    package_dir = Path(__file__).resolve().parent.parent
    in_checkout = package_dir.parent / "scaffolds"
    return in_checkout if in_checkout.is_dir() else package_dir / "_data" / "scaffolds"


def available_templates() -> list[Template]:
    found = []
    for path in sorted(scaffolds_dir().glob("workspace-*")):
        about = path / "TEMPLATE.txt"
        summary = about.read_text().strip().splitlines()[0] if about.exists() else ""
        found.append(Template(path.name.removeprefix("workspace-"), path, summary))
    return found


def render_workspace(target: Path, template: str, variables: dict[str, object],
                     force: bool = False) -> list[Path]:
    """Write the template into ``target``; return the files written."""
    templates = {t.name: t for t in available_templates()}
    if template not in templates:
        raise ScaffoldError(f"unknown template '{template}' (available: {', '.join(templates)})")
    source = templates[template].path
    if (target / "lcdev.yaml").exists() and not force:
        raise ScaffoldError(f"{target} already holds a workspace (lcdev.yaml); use --force")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(source), autoescape=False,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    plan: list[tuple[Path, Path]] = []  # (template file, destination)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_dir() or path.name in {"TEMPLATE.txt", ".gitkeep"}:
            continue
        rendered = relative.with_suffix("") if path.suffix == ".jinja" else relative
        plan.append((path, target / rendered))
    # Check every destination before writing any, so a refusal leaves nothing behind.
    clashes = [destination for _, destination in plan if destination.exists()]
    if clashes and not force:
        raise ScaffoldError(f"{clashes[0]} exists; use --force to overwrite")
    for path, destination in plan:
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jinja":
            template_name = path.relative_to(source).as_posix()
            destination.write_text(env.get_template(template_name).render(**variables))
        else:
            shutil.copyfile(path, destination)
    (target / "services").mkdir(parents=True, exist_ok=True)
    return [destination for _, destination in plan]
