"""Load a whole workspace: ``lcdev.yaml``, every ``service.yaml``, and their cross-references.

:func:`load_workspace` never raises for bad input; it returns every problem found across all
files, sorted by file and line, with the services that are free of errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lcdev.definitions.crossrefs import LoadedService, check_workspace
from lcdev.definitions.problems import Problem, sort_problems
from lcdev.definitions.service import ServiceDefinition
from lcdev.definitions.workspace import WorkspaceDefinition
from lcdev.definitions.yamlload import YamlDocument, load_document, validate_document

__all__ = [
    "SERVICE_FILE",
    "WORKSPACE_FILE",
    "LoadedWorkspace",
    "find_workspace_root",
    "load_workspace",
]

WORKSPACE_FILE = "lcdev.yaml"
SERVICE_FILE = "service.yaml"
DEFAULT_SERVICE_GLOBS = ("services/*",)


@dataclass(frozen=True)
class LoadedWorkspace:
    """The result of loading a workspace: valid definitions plus every problem found."""

    root: Path
    workspace: WorkspaceDefinition | None
    services: dict[str, ServiceDefinition] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    service_dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no error (warnings allowed) was found."""
        return not any(p.is_error for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        """Only the errors."""
        return [p for p in self.problems if p.is_error]


def find_workspace_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``lcdev.yaml`` (like git)."""
    current = start.resolve()
    if current.is_file():
        current = current.parent
    for candidate in (current, *current.parents):
        if (candidate / WORKSPACE_FILE).is_file():
            return candidate
    return None


def _service_dirs(root: Path, globs: list[str] | tuple[str, ...]) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in globs:
        for path in sorted(root.glob(pattern)):
            if path.is_dir() and not path.name.startswith((".", "_")):
                found[path] = None
    return list(found)


def load_workspace(root: Path) -> LoadedWorkspace:
    """Load and check the workspace at ``root``. Never raises for bad definitions."""
    problems: list[Problem] = []
    workspace: WorkspaceDefinition | None = None
    ws_doc: YamlDocument | None = None
    ws_path = root / WORKSPACE_FILE
    if ws_path.is_file():
        ws_doc, found = load_document(ws_path, root=root)
        problems += found
        if ws_doc is not None:
            workspace, found = validate_document(ws_doc, WorkspaceDefinition)
            problems += found
    else:
        problems.append(Problem(Path(WORKSPACE_FILE), 1, 1, f"no {WORKSPACE_FILE} in {root}"))

    globs = workspace.services if workspace is not None else DEFAULT_SERVICE_GLOBS
    loaded: dict[str, LoadedService] = {}
    dirs: dict[str, Path] = {}
    broken: set[str] = set()
    for folder in _service_dirs(root, globs):
        path = folder / SERVICE_FILE
        if not path.is_file():
            shown = folder.relative_to(root) if folder.is_relative_to(root) else folder
            problems.append(
                Problem(shown, 1, 1, f"no {SERVICE_FILE} in service folder", "warning")
            )
            continue
        doc, found = load_document(path, root=root)
        problems += found
        service: ServiceDefinition | None = None
        if doc is not None:
            service, found = validate_document(doc, ServiceDefinition)
            problems += found
        if doc is None or service is None:
            broken.add(folder.name)
            continue
        if service.name != folder.name:
            problems.append(doc.problem(
                ("name",),
                f"service name '{service.name}' does not match its folder '{folder.name}'",
            ))
        if service.name in loaded:
            other = loaded[service.name].doc.shown_path
            problems.append(doc.problem(
                ("name",), f"duplicate service name '{service.name}' (also in {other})"
            ))
            continue
        loaded[service.name] = LoadedService(doc, service)
        dirs[service.name] = folder

    problems += check_workspace(workspace, ws_doc, loaded, broken)
    bad_files = {p.file for p in problems if p.is_error}
    services = {
        name: item.service for name, item in loaded.items()
        if item.doc.shown_path not in bad_files
    }
    if ws_doc is not None and ws_doc.shown_path in bad_files:
        workspace = None
    return LoadedWorkspace(
        root=root,
        workspace=workspace,
        services=services,
        problems=sort_problems(problems),
        service_dirs={name: dirs[name] for name in services},
    )
