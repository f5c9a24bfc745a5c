"""Breaking changes against a git ref: ``lcdev test --against REF``.

The workspace as it was at ``REF`` (see :mod:`breaking_git`) and the working tree are loaded
with the same loader, every service present at the ref is compared (:mod:`breaking_api`,
:mod:`breaking_events`), and each break becomes a ``Finding`` pointing at its line: in the
working tree for something changed, in the ref's file for something removed (``details``
says which). A service whose major version went up may break its own contract on purpose, so
its breaks are listed as ``passed`` with an "allowed" note. Nothing here raises for a problem
of the user's: it is an ``error`` finding.
"""

from __future__ import annotations

import time
from pathlib import Path

from lcdev.contracts.breaking_api import api_breaks, service_removed
from lcdev.contracts.breaking_events import event_breaks
from lcdev.contracts.breaking_git import RefUnavailable, workspace_at_ref
from lcdev.contracts.breaking_model import Break, Dependents, Loc
from lcdev.contracts.findings import Finding
from lcdev.definitions import (
    SERVICE_FILE,
    WORKSPACE_FILE,
    LoadedWorkspace,
    ServiceDefinition,
    load_document,
    load_workspace,
)

__all__ = ["compare_with_ref", "service_breaks"]

_MAX_PROBLEMS_SHOWN = 5


def compare_with_ref(root: Path, ref: str) -> list[Finding]:
    """Findings for every service present at ``ref``: its breaking changes in the working tree
    (``failed``, or ``passed`` when its major version went up), or one ``passed`` finding when
    nothing broke. One ``error`` finding when either side cannot be loaded."""
    started = time.perf_counter()
    current = load_workspace(root)
    if not current.ok:
        return [_error(ref, "the working tree's definitions have errors", current)]
    try:
        with workspace_at_ref(root, ref) as ref_root:
            if not (ref_root / WORKSPACE_FILE).is_file():
                return [_error(ref, f"there is no {WORKSPACE_FILE} in the workspace at '{ref}'")]
            before = load_workspace(ref_root)
            if not before.ok:
                return [_error(ref, f"the definitions at '{ref}' have errors", before)]
            findings = _compare(before, current, ref)
    except RefUnavailable as exc:
        return [_error(ref, str(exc))]
    seconds = (time.perf_counter() - started) / max(len(findings), 1)
    return [Finding(**{**f.to_dict(), "seconds": seconds}) for f in findings]


def service_breaks(old: ServiceDefinition, new: ServiceDefinition | None,
                   deps: Dependents) -> list[Break]:
    """The breaking changes from ``old`` to ``new`` (None: the service is gone)."""
    if new is None:
        return [service_removed(old, deps)]
    return api_breaks(old, new, deps) + event_breaks(old, new, deps)


def _compare(before: LoadedWorkspace, after: LoadedWorkspace, ref: str) -> list[Finding]:
    deps = Dependents.of(before.services, after.services)
    findings: list[Finding] = []
    for name, old in sorted(before.services.items()):
        new = after.services.get(name)
        breaks = service_breaks(old, new, deps)
        if not breaks:
            findings.append(Finding("breaking", f"{name}: compatible with {ref}", "passed",
                                    service=name, message=f"nothing {name} offered at {ref}"
                                    " is broken", details={"ref": ref}))
            continue
        allowed = new is not None and new.api_major > old.api_major
        note = f"allowed (major version {old.api_major} → {new.api_major}): " \
            if new is not None and allowed else ""
        for found in breaks:
            side = before if found.at_ref else after
            findings.append(Finding(
                "breaking", f"{name}: {found.subject}", "passed" if allowed else "failed",
                service=name, message=note + found.message,
                where=_where(side, name, found.loc), hint=found.hint,
                details={"ref": ref, "at": ref if found.at_ref else "working tree"}))
    return findings


def _where(side: LoadedWorkspace, service: str, loc: Loc) -> str:
    """``services/orders/service.yaml:14:7``: relative to the workspace root, at the deepest
    key of ``loc`` that exists in the file (the service's name when none does)."""
    path = side.service_dirs[service] / SERVICE_FILE
    doc, _ = load_document(path, root=side.root)
    if doc is None:
        return path.relative_to(side.root).as_posix()
    node, kept = doc.data, 0
    for seg in loc:
        present = seg in node if isinstance(node, dict) else (
            isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node))
        if not present:
            break
        node, kept = node[seg], kept + 1
    line, column = doc.position(loc[:kept] or ("name",), at_key=True)
    return f"{doc.shown_path.as_posix()}:{line}:{column}"


def _error(ref: str, message: str, loaded: LoadedWorkspace | None = None) -> Finding:
    errors = loaded.errors if loaded is not None else []
    problems = [str(p) for p in errors]
    shown = problems[:_MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    text = message + (": " + "; ".join(shown) if shown else "") + (
        f" (and {more} more)" if more > 0 else "")
    return Finding("breaking", f"breaking changes against {ref}", "error", message=text,
                   where=f"{errors[0].file.as_posix()}:{errors[0].line}:{errors[0].column}"
                   if errors else "",
                   hint="fix the definitions (lcdev validate)" if loaded is not None else
                   "run it inside a git repository, with a ref that exists (git log --oneline)",
                   details={"ref": ref, "problems": problems})
