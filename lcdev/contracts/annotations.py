"""GitHub Actions annotations: failed contracts shown on the lines of the pull request.

A workflow command per finding that failed or could not be checked
(``::error file=services/orders/service.yaml,line=12,col=5,title=...::message``), written to
stdout when ``GITHUB_ACTIONS=true``. Values are escaped as the runner expects (``%``, CR, LF
everywhere; ``:`` and ``,`` in properties too) so a message can never end the command early.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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


def annotation(finding: Finding) -> str | None:
    """The workflow command of one finding, or None when there is nothing to flag."""
    if finding.outcome not in ("failed", "error"):
        return None
    props: list[tuple[str, str]] = []
    match = _FILE_POSITION.match(finding.where)
    if match:
        props.append(("file", match["file"]))
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


def github_annotations(findings: list[Finding]) -> list[str]:
    return [line for line in map(annotation, findings) if line is not None]
