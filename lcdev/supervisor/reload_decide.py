"""Deciding what a set of saved files takes: which services swap, restart, start or stop.

Pure functions over paths and definitions (``lcdev.core.changes`` says what changed in a
definition; this module maps files and changes to actions), so every rule is unit-tested
without a process:

- ``lcdev.yaml`` — workspace settings (``diff_workspace``); secrets restart the code services
  whose ``process.env`` uses one that changed; ``stacks/*.yaml`` need ``lcdev up``;
- a low-code service whose definition changed, or with a changed ``*.py`` (escape hatch:
  rebuilt even though its definition did not change), or consuming an event whose producer
  changed: swap;
- a code service whose definition changed, or a file of its folder matching ``process.watch``
  (every file when empty): restart — also a service whose ``kind`` changed;
- a service only on the new side: start (when its folder was touched or the globs changed); a
  service only on the old side: stop.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lcdev.core.changes import (
    ServiceChanges,
    WorkspaceChanges,
    changed_events,
    diff_service,
    diff_workspace,
)
from lcdev.core.reload_order import consumers_of
from lcdev.definitions import SERVICE_FILE, WORKSPACE_FILE, LoadedWorkspace, ServiceDefinition

__all__ = [
    "ChangedPaths",
    "ReloadDecision",
    "classify_paths",
    "decide",
    "relative",
    "secret_users",
    "watched",
]

_SECRET_REF = re.compile(r"\$\{secrets\.([A-Za-z0-9_]+)\}")


def relative(path: Path, root: Path) -> Path:
    """``path`` relative to ``root`` when it lies below it (batches carry absolute paths)."""
    try:
        return path.relative_to(root) if path.is_absolute() else path
    except ValueError:
        return path


@dataclass(frozen=True)
class ChangedPaths:
    """A batch's paths, sorted by what they belong to."""

    workspace_file: bool = False
    stack_files: tuple[str, ...] = ()
    touched: dict[str, list[Path]] = field(default_factory=dict)
    """Service name -> its changed files (absolute), for every service folder touched."""


def classify_paths(paths: Iterable[Path], root: Path, dirs: Mapping[str, Path]) -> ChangedPaths:
    """Sort ``paths`` (absolute or relative to ``root``) by owner. ``dirs``: every service
    folder known before or after the change. A ``service.yaml`` in a folder no one knows yet
    (a new service that failed to load before) names its folder."""
    workspace_file = False
    stacks: list[str] = []
    touched: dict[str, list[Path]] = {}
    folders = {folder: name for name, folder in dirs.items()}
    for path in sorted(paths):
        absolute = path if path.is_absolute() else root / path
        shown = relative(absolute, root)
        if shown == Path(WORKSPACE_FILE):
            workspace_file = True
            continue
        if shown.parts[:1] == ("stacks",) and shown.suffix in (".yaml", ".yml"):
            stacks.append(shown.as_posix())
            continue
        owner = next((folders[p] for p in absolute.parents if p in folders), None)
        if owner is None and absolute.name == SERVICE_FILE:
            owner = absolute.parent.name
        if owner is not None:
            touched.setdefault(owner, []).append(absolute)
    return ChangedPaths(workspace_file, tuple(stacks), touched)


def watched(path: Path, folder: Path, globs: Collection[str]) -> bool:
    """A code service's file whose change restarts it: below its folder, not its
    ``service.yaml`` (compared as a definition instead), matching one of ``globs`` (relative
    to the folder; ``*`` also crosses folders, so ``*.py`` is every Python file); no globs:
    every file."""
    try:
        rel = PurePosixPath(path.relative_to(folder).as_posix())
    except ValueError:
        return False
    if str(rel) == SERVICE_FILE:
        return False
    return not globs or any(fnmatch.fnmatch(str(rel), g) or rel.match(g) for g in globs)


def secret_users(services: Mapping[str, ServiceDefinition], secrets: Collection[str]) -> set[str]:
    """Code services whose ``process.env`` refers to one of ``secrets``."""
    return {name for name, svc in services.items() if _secret_refs(svc) & set(secrets)}


@dataclass
class ReloadDecision:
    """What to do, and why. ``swap`` maps a low-code service to ``force`` (rebuild even when
    its definition is unchanged); ``caused_by`` names the producer for a consumer reloaded
    only because of it (skipped when that producer's reload fails)."""

    swap: dict[str, bool] = field(default_factory=dict)
    restart: set[str] = field(default_factory=set)
    start: list[str] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    changes: dict[str, ServiceChanges] = field(default_factory=dict)
    caused_by: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    workspace: WorkspaceChanges | None = None
    stack_files: tuple[str, ...] = ()

    @property
    def services(self) -> list[str]:
        """Every service something happens to, sorted."""
        return sorted({*self.swap, *self.restart, *self.start, *self.stop})

    @property
    def empty(self) -> bool:
        """Nothing to do and nothing to report."""
        workspace = self.workspace is not None and self.workspace.changed
        return not (self.services or workspace or self.stack_files)

    def needs_up(self) -> list[str]:
        """Settings and files that only a new ``lcdev up`` applies."""
        found = list(self.workspace.needs_up) if self.workspace else []
        found += [f"stack file {name} changed, needs `lcdev up` again"
                  for name in self.stack_files]
        return found


def decide(
    old: LoadedWorkspace,
    new: LoadedWorkspace,
    changed: ChangedPaths,
    force: Collection[str] = (),
) -> ReloadDecision:
    """What moving from ``old`` (what runs) to ``new`` (valid definitions on disk) takes, for
    the services ``changed.touched`` names (others are left alone even if they differ: a
    refused edit is not retried by an unrelated save). ``force``: services reloaded even
    when unchanged (``lcdev apply NAME``)."""
    decision = ReloadDecision(stack_files=changed.stack_files)
    if changed.workspace_file and old.workspace is not None and new.workspace is not None:
        decision.workspace = diff_workspace(old.workspace, new.workspace)
    for name in sorted(changed.touched.keys() & old.services.keys() & new.services.keys()):
        _decide_service(decision, name, old, new, changed.touched[name], name in force)
    _add_consumers(decision, old, new)
    if decision.workspace is not None and decision.workspace.secrets_changed:
        _restart_secret_users(decision, old, new)
    globs_changed = decision.workspace is not None and decision.workspace.services_changed
    decision.start = sorted(
        name for name in new.services.keys() - old.services.keys()
        if globs_changed or name in changed.touched or name in force
    )
    decision.stop = sorted(old.services.keys() - new.services.keys())
    for name in (*decision.start, *decision.stop):
        decision.changes[name] = diff_service(old.services.get(name), new.services.get(name))
    return decision


def _decide_service(decision: ReloadDecision, name: str, old: LoadedWorkspace,
                    new: LoadedWorkspace, paths: list[Path], forced: bool) -> None:
    before, after = old.services[name], new.services[name]
    changes = diff_service(before, after)
    folder = new.service_dirs.get(name) or old.service_dirs[name]
    if before.kind != after.kind:
        decision.restart.add(name)
    elif after.kind == "process":
        globs = after.process.watch if after.process else []
        if not (changes.changed or forced or any(watched(p, folder, globs) for p in paths)):
            return
        decision.restart.add(name)
    else:
        hatch = any(p.suffix == ".py" for p in paths)
        if not (changes.changed or hatch or forced):
            return
        decision.swap[name] = hatch or forced
    decision.changes[name] = changes


def _add_consumers(decision: ReloadDecision, old: LoadedWorkspace, new: LoadedWorkspace) -> None:
    """Consumers of events whose contract changed reload after their producer (forced: their
    own definition did not change)."""
    for producer in sorted(decision.swap.keys() | decision.restart):
        events = changed_events(old.services.get(producer), new.services.get(producer))
        if not events:
            continue
        for consumer in sorted(consumers_of(new.services, producer, events) - {producer}):
            service = new.services[consumer]
            if (consumer in decision.swap or consumer in decision.restart
                    or consumer not in old.services or service.kind != "lowcode"):
                continue
            decision.swap[consumer] = True
            decision.caused_by[consumer] = producer
            decision.changes[consumer] = diff_service(old.services[consumer], service)
            decision.reasons[consumer] = [
                f"consumes {', '.join(sorted(events & _consumed(service)))} of {producer}"]


def _consumed(service: ServiceDefinition) -> set[str]:
    return {entry.event for entry in service.consumes}


def _restart_secret_users(decision: ReloadDecision, old: LoadedWorkspace,
                          new: LoadedWorkspace) -> None:
    assert old.workspace is not None
    assert new.workspace is not None
    before, after = old.workspace.secrets, new.workspace.secrets
    secrets = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    running = {n: s for n, s in new.services.items() if n in old.services}
    for name in sorted(secret_users(running, secrets) - decision.restart):
        decision.restart.add(name)
        decision.changes.setdefault(name, diff_service(old.services[name], new.services[name]))
        used = secrets & _secret_refs(new.services[name])
        decision.reasons[name] = [f"secret {s} changed" for s in sorted(used)]


def _secret_refs(service: ServiceDefinition) -> set[str]:
    env = service.process.env if service.process is not None else {}
    return {ref for value in env.values() for ref in _SECRET_REF.findall(value)}
