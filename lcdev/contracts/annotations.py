"""GitHub Actions annotations: failed contracts shown on the lines of the pull request.

A workflow command per finding that failed or could not be checked
(``::error file=services/orders/service.yaml,line=12,col=5,title=...::message``), written to
stdout when ``GITHUB_ACTIONS=true``. Values are escaped as the runner expects (``%``, CR, LF
everywhere; ``:`` and ``,`` in properties too) so a message can never end the command early.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path

from lcdev.contracts.findings import Finding

__all__ = ["annotation", "github_annotations", "in_github_actions"]

# services/orders/service.yaml:12:5 (not an operation such as "POST /orders/orders")
_FILE_POSITION = re.compile(
    r"^(?P<file>[^\s:]+\.[A-Za-z0-9]+)(?::(?P<line>\d+))?(?::(?P<col>\d+))?$")


def in_github_actions(environ: Mapping[str, str]) -> bool:
    return environ.get("GITHUB_ACTIONS", "").lower() == "true"


def _data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(value: str) -> str:
    return _data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, prefix: str = "") -> str | None:
    """The workflow command of one finding, or None when there is nothing to flag.
    ``prefix``: the workspace's folder relative to the repository (GitHub places annotations
    by paths from the repository's root; findings say where relative to the workspace)."""
    if finding.outcome not in ("failed", "error"):
        return None
    props: list[tuple[str, str]] = []
    match = _FILE_POSITION.match(finding.where)
    if match:
        props.append(("file", posixpath.join(prefix, match["file"]) if prefix
                      else match["file"]))
        if match["line"]:
            props.append(("line", match["line"]))
        if match["col"]:
            props.append(("col", match["col"]))
    verb = "failed" if finding.outcome == "failed" else "could not be checked"
    props.append(("title", f"lcdev test: {finding.name} {verb}"))
    message = finding.message
    if finding.reproduce:
        message += f"\nreproduce: {finding.reproduce}"
    if finding.hint:
        message += f"\nhint: {finding.hint}"
    rendered = ",".join(f"{key}={_property(value)}" for key, value in props)
    return f"::error {rendered}::{_data(message)}"


def github_annotations(findings: list[Finding], root: Path | None = None,
                       environ: Mapping[str, str] | None = None) -> list[str]:
    """The workflow commands of every failure. With ``root`` (the workspace) inside
    ``GITHUB_WORKSPACE`` (the checkout), files are named from the checkout's root."""
    prefix = ""
    checkout = (environ if environ is not None else os.environ).get("GITHUB_WORKSPACE")
    if root is not None and checkout:
        with contextlib.suppress(ValueError):
            prefix = root.resolve().relative_to(Path(checkout).resolve()).as_posix()
            prefix = "" if prefix == "." else prefix
    found = (annotation(finding, prefix) for finding in findings)
    return [line for line in found if line is not None]
