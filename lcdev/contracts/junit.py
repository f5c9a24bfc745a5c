"""JUnit XML of a contract run: what CI systems show as test results.

One ``<testsuite>`` per check (``api``, ``events``, ``breaking``), one ``<testcase>`` per
finding, named by the finding's stable ``name``. A broken contract is a ``<failure>``, a thing
that could not be checked an ``<error>`` (both carry the message as attribute and the
reproduction, trace id and hint as text), a deliberately skipped one ``<skipped>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lcdev.contracts.findings import CHECKS, Check, Finding

__all__ = ["finding_text", "junit_xml", "write_junit"]


def finding_text(finding: Finding) -> str:
    """Everything a reader needs to act on a finding, one fact a line."""
    lines = [finding.message]
    if finding.where:
        lines.append(f"where: {finding.where}")
    if finding.reproduce:
        lines.append(f"reproduce: {finding.reproduce}")
    if finding.trace_id:
        lines.append(f"trace: lcdev trace {finding.trace_id}")
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    seed = finding.details.get("seed")
    if seed is not None:
        lines.append(f"seed: {seed} (lcdev test --seed {seed} reproduces it)")
    return "\n".join(line for line in lines if line)


def junit_xml(findings: list[Finding], asked: tuple[Check, ...], seconds: float = 0.0) -> str:
    """The XML document (UTF-8 text with declaration)."""
    suites = ET.Element("testsuites", name="lcdev test", time=f"{seconds:.3f}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check in [c for c in CHECKS if c in asked or any(f.check == c for f in findings)]:
        mine = [f for f in findings if f.check == check]
        counts = {
            "tests": len(mine),
            "failures": sum(f.outcome == "failed" for f in mine),
            "errors": sum(f.outcome == "error" for f in mine),
            "skipped": sum(f.outcome == "skipped" for f in mine),
        }
        attributes = {"name": check, **{key: str(value) for key, value in counts.items()},
                      "time": f"{sum(f.seconds for f in mine):.3f}"}
        suite = ET.SubElement(suites, "testsuite", attributes)
        for finding in mine:
            _testcase(suite, finding)
        for key, value in counts.items():
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{ET.tostring(suites, encoding="unicode")}\n'


def _testcase(suite: ET.Element, finding: Finding) -> None:
    classname = f"{finding.check}.{finding.service}" if finding.service else finding.check
    case = ET.SubElement(suite, "testcase", name=finding.name, classname=classname,
                         time=f"{finding.seconds:.3f}")
    if finding.where:
        case.set("file", finding.where.split(":", 1)[0])
    tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(finding.outcome)
    if tag is None:
        return
    element = ET.SubElement(case, tag, message=finding.message)
    if tag != "skipped":
        element.set("type", "contract" if tag == "failure" else "could-not-check")
        element.text = finding_text(finding)


def write_junit(path: Path, findings: list[Finding], asked: tuple[Check, ...],
                seconds: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(findings, asked, seconds), encoding="utf-8")
