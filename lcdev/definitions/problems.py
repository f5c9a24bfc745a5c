"""Problems found while loading definitions, each pointing at ``file:line:column``.

Loading never raises for bad input: every check produces :class:`Problem` values, and callers
(CLI, hot reload, the dashboard) decide how to show them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Problem", "Severity", "did_you_mean", "sort_problems"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One error or warning at a position in a definition file (line and column are 1-based)."""

    file: Path
    line: int
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file.as_posix()}:{self.line}:{self.column}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        """True for errors, False for warnings."""
        return self.severity == "error"

    def relative_to(self, root: Path) -> Problem:
        """The same problem with its file shown relative to ``root`` when it lies below it."""
        try:
            rel = self.file.relative_to(root)
        except ValueError:
            return self
        return Problem(rel, self.line, self.column, self.message, self.severity)

    def to_dict(self) -> dict[str, str | int]:
        """A JSON-ready mapping (used by ``--json`` output)."""
        return {
            "file": self.file.as_posix(),
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
        }


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems ordered by file, then line, then column; duplicates removed."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.file.as_posix(), p.line, p.column, p.message))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
