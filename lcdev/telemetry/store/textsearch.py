"""From a ``grep`` regular expression to a text-index query that finds a superset of its
matches.

The pattern is parsed with the standard library's own parser (``re._parser``, the module
``re.compile`` uses) and the text every match must contain is collected: runs of plain
characters in the top-level sequence and in groups that must match, and for an alternation
``a|b`` the choice of what each branch requires. Whatever is not understood contributes
nothing, which only makes the superset larger: Python ``re`` confirms every candidate.
Literals shorter than three characters cannot use a trigram index. A pattern with nothing
usable (``\\d+ms``, ``^.{3}$``) returns ``None``: the search is then a scan of the lines the
other filters select, newest first, until ``limit`` matches (bounded by ``since``/``limit``).

With ``(?i)`` a literal is used only when it is ASCII: the index folds case as SQLite does,
which for other scripts may differ from Python's folding.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

# The parser behind re.compile (private modules: imported by name, typed loosely; the
# deprecated public aliases sre_parse/sre_constants would warn).
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

__all__ = ["Requirement", "fts_query", "required_text"]

MIN_LITERAL = 3
_MAX_TERMS = 8  # trigrams per literal: more narrow little and cost a doclist each


@dataclass(frozen=True, slots=True)
class Requirement:
    """Every literal in ``all_of`` must occur, and one option of each of ``any_of``."""

    all_of: tuple[str, ...] = ()
    any_of: tuple[tuple[Requirement, ...], ...] = ()

    def usable(self) -> bool:
        return bool(self.all_of or self.any_of)


def required_text(pattern: str) -> Requirement | None:
    """What any match of ``pattern`` contains, or ``None`` when the index cannot help."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    found = _sequence(list(parsed), ignore_case)
    return found if found.usable() else None


def _sequence(items: list[tuple[Any, Any]], ignore_case: bool) -> Requirement:
    literals: list[str] = []
    options: list[tuple[Requirement, ...]] = []
    run: list[str] = []

    def end_run() -> None:
        text = "".join(run)
        run.clear()
        if len(text) >= MIN_LITERAL and (not ignore_case or text.isascii()):
            literals.append(text)

    for op, arg in items:
        if op is sre_constants.LITERAL:
            run.append(chr(arg))
            continue
        end_run()
        inner = _element(op, arg, ignore_case)
        if inner is not None:
            literals.extend(inner.all_of)
            options.extend(inner.any_of)
    end_run()
    return Requirement(tuple(literals), tuple(options))


def _element(op: Any, arg: Any, ignore_case: bool) -> Requirement | None:
    """What one non-literal element requires (``None``: nothing known)."""
    if op is sre_constants.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        case = (ignore_case or bool(add_flags & re.IGNORECASE)) and not (
            del_flags & re.IGNORECASE)
        return _sequence(list(body), case)
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
        low, _high, body = arg
        return _sequence(list(body), ignore_case) if low >= 1 else None
    if op is sre_constants.BRANCH:
        _none, branches = arg
        choices = tuple(_sequence(list(branch), ignore_case) for branch in branches)
        if choices and all(choice.usable() for choice in choices):
            return Requirement(any_of=(choices,))
    return None


def fts_query(requirement: Requirement) -> str:
    """The FTS5 query (trigram tokenizer, ``detail=none``): an AND of trigrams."""
    parts = [_literal_terms(text) for text in requirement.all_of]
    for choices in requirement.any_of:
        parts.append("(" + " OR ".join(f"({fts_query(choice)})" for choice in choices) + ")")
    return " AND ".join(parts)


def _literal_terms(text: str) -> str:
    grams = sorted({text[i:i + 3] for i in range(len(text) - 2)},
                   key=lambda gram: text.index(gram))
    if len(grams) > _MAX_TERMS:  # spread over the literal: its start, middle and end
        step = (len(grams) - 1) / (_MAX_TERMS - 1)
        grams = [grams[round(i * step)] for i in range(_MAX_TERMS)]
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in grams)
