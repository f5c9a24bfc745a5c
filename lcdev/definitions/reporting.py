"""Problem collection for reference checks: a :class:`Reporter` per YAML document."""

from __future__ import annotations

from collections.abc import Iterable

from lcdev.definitions.issues import Loc
from lcdev.definitions.problems import Problem, Severity, did_you_mean
from lcdev.definitions.yamlload import YamlDocument

__all__ = ["Reporter", "under_route"]


class Reporter:
    """Collects problems located in one document."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def add(
        self, loc: Loc, message: str, severity: Severity = "error", *, at_key: bool = False
    ) -> None:
        """Record a problem at ``loc`` of the document (at its key when ``at_key``)."""
        self.problems.append(self.doc.problem(loc, message, severity=severity, at_key=at_key))

    def unknown(
        self, loc: Loc, what: str, name: str, known: Iterable[str], prefix: str,
        template: str = "unknown {what} '{name}'", *, at_key: bool = False,
    ) -> bool:
        """Report ``name`` unless it is in ``known``; True when it was unknown."""
        known = list(known)
        if name in known:
            return False
        text = template.format(what=what, name=name)
        self.add(loc, f"{prefix}{text}{did_you_mean(name, known)}", at_key=at_key)
        return True


def under_route(route: str, path: str) -> bool:
    """True when ``path`` is ``route`` or lies below it (segment-wise)."""
    return path == route or path.startswith(route.rstrip("/") + "/")
