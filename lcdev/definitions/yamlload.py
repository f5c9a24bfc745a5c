"""Load YAML with positions and validate it with any pydantic model, reporting file:line:column.

``load_model`` is generic: it works for any pydantic model (``extra="forbid"`` recommended, so
misspelled keys are reported). YAML syntax errors, tabs and duplicate keys become problems at the
position ruamel reports; validation errors are mapped back to the offending key or value.

Positions are needed only when there is a problem, and ruamel's round-trip parser (pure Python)
is the slow part of a reload. So a file is read by ``yamlfast`` (libyaml, the same data), and
ruamel parses it only when ``yamlfast`` declines (errors, duplicate keys, unusual YAML) or when a
position is first asked for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from lcdev.definitions.issues import Loc
from lcdev.definitions.messages import translate_errors
from lcdev.definitions.problems import Problem, Severity, sort_problems
from lcdev.definitions.yamlfast import parse_fast

__all__ = ["YamlDocument", "load_document", "load_model", "validate_document"]

M = TypeVar("M", bound=BaseModel)


class _RecordingConstructor(RoundTripConstructor):
    """Round-trip constructor that records duplicate keys instead of stopping at the first."""

    duplicates: list[tuple[Any, Any]]

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        if key in mapping:
            first = next((k for k, _ in node.value if k.value == key_node.value), None)
            if not hasattr(self, "duplicates"):
                self.duplicates = []
            self.duplicates.append((key_node, first))
            return False
        return True


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: plain data (for validation) and its text, whose round-trip tree gives
    positions (parsed on first use: a valid file never needs it)."""

    path: Path
    shown_path: Path
    data: Any
    text: str = field(repr=False)

    @cached_property
    def tree(self) -> Any:
        """ruamel's round-trip tree of ``text``: CommentedMap/CommentedSeq with positions."""
        try:
            return _round_trip(self.text)[0]
        except (YAMLError, ValueError, IndexError):  # pragma: no cover - the text was parsed
            return None  # positions fall back to 1:1

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at ``loc``, or of its nearest existing ancestor."""
        node: Any = self.tree
        pos = (0, 0)
        last_key_pos: tuple[int, int] | None = None
        for index, seg in enumerate(loc):
            final = index == len(loc) - 1
            if isinstance(node, CommentedMap) and seg in node:
                key_pos = _pair(node.lc.key(seg))
                value = node[seg]
                if final and (at_key or isinstance(value, CommentedMap | CommentedSeq)):
                    return _one_based(key_pos)
                pos, last_key_pos, node = _pair(node.lc.value(seg)), key_pos, value
            elif isinstance(node, CommentedSeq) and isinstance(seg, int) and 0 <= seg < len(node):
                pos, last_key_pos, node = _pair(node.lc.item(seg)), None, node[seg]
            else:
                break
        if isinstance(node, CommentedMap | CommentedSeq) and last_key_pos is not None:
            return _one_based(last_key_pos)
        return _one_based(pos)

    def problem(
        self, loc: Loc, message: str, *, at_key: bool = False, severity: Severity = "error"
    ) -> Problem:
        """A problem at ``loc`` in this document."""
        line, column = self.position(loc, at_key=at_key)
        return Problem(self.shown_path, line, column, message, severity)


def _pair(value: Any) -> tuple[int, int]:
    return int(value[0]), int(value[1])


def _one_based(pos: tuple[int, int]) -> tuple[int, int]:
    return pos[0] + 1, pos[1] + 1


def _plain(value: Any) -> Any:
    """Strip ruamel's wrapper types so pydantic sees ordinary Python values."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.date):
        return value
    return str(value)


def _shown(path: Path, root: Path | None) -> Path:
    if root is not None:
        try:
            return path.relative_to(root)
        except ValueError:
            return path
    return path


def _document(path: Path, shown: Path, text: str, data: Any, tree: Any) -> YamlDocument:
    """A document whose tree is already parsed (``cached_property`` reads it from __dict__)."""
    doc = YamlDocument(path, shown, data, text)
    doc.__dict__["tree"] = tree
    return doc


def load_document(
    path: Path, *, root: Path | None = None
) -> tuple[YamlDocument | None, list[Problem]]:
    """Parse ``path``; syntax errors, tabs and duplicate keys become problems."""
    shown = _shown(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(shown, 1, 1, f"cannot read file: {exc}")]
    key = (str(path), str(shown), text)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _parse(path, shown, text)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = cached
    return cached[0], list(cached[1])


# A reload after an edit re-reads every file: unchanged texts reuse their parse (and the
# round-trip tree, once a problem made one necessary).
_CACHE_SIZE = 256
_CACHE: dict[tuple[str, str, str], tuple[YamlDocument | None, list[Problem]]] = {}


def _parse(path: Path, shown: Path, text: str) -> tuple[YamlDocument | None, list[Problem]]:
    fast = parse_fast(text)
    if fast is not None:
        return YamlDocument(path, shown, fast.data, text), []
    return _parse_round_trip(path, shown, text)


def _parse_round_trip(
    path: Path, shown: Path, text: str
) -> tuple[YamlDocument | None, list[Problem]]:
    """ruamel's reading, which words every syntax error and duplicate key with its position."""
    try:
        tree, duplicates = _round_trip(text)
    except MarkedYAMLError as exc:
        return None, [_syntax_problem(shown, exc, text)]
    except YAMLError as exc:  # pragma: no cover - ruamel marks nearly every error
        return None, [Problem(shown, 1, 1, f"invalid YAML: {exc}")]
    except (ValueError, IndexError) as exc:  # ruamel's constructor fails on e.g. 2024-13-01
        return None, [Problem(shown, 1, 1, f"invalid YAML value ({exc}); quote it if it is"
                                           " meant as text")]
    problems = [
        Problem(
            shown,
            dup.start_mark.line + 1,
            dup.start_mark.column + 1,
            f"duplicate key '{dup.value}'"
            + (f" (first defined on line {first.start_mark.line + 1})" if first else ""),
        )
        for dup, first in duplicates
    ]
    return _document(path, shown, text, _plain(tree), tree), problems


def _round_trip(text: str) -> tuple[Any, list[tuple[Any, Any]]]:
    """ruamel's round-trip tree of ``text`` and its duplicate keys (key node, first key node)."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _RecordingConstructor
    tree = yaml.load(text)
    return tree, getattr(yaml.constructor, "duplicates", [])


def _syntax_problem(shown: Path, exc: MarkedYAMLError, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = (exc.problem or str(exc)).strip()
    if "'\\t'" in problem or (mark is not None and _char_at(text, mark.index) == "\t"):
        message = "tab character found; indent YAML with spaces only"
    else:
        message = f"invalid YAML: {problem}"
        if exc.context:
            message += f" ({exc.context.strip()}"
            cm = exc.context_mark
            if cm is not None and mark is not None and cm.line != mark.line:
                message += f" started on line {cm.line + 1}, column {cm.column + 1}"
            message += ")"
    return Problem(shown, line, column, message)


def _char_at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else ""


def validate_document(doc: YamlDocument, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate a parsed document against ``model``; every problem is reported at once."""
    if doc.data is None:
        return None, [doc.problem((), "file is empty; expected a mapping of keys")]
    if not isinstance(doc.data, dict):
        return None, [doc.problem((), "expected a mapping of keys at the top of the file")]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, [
            doc.problem(loc, message, at_key=at_key)
            for loc, message, at_key in translate_errors(model, doc.data, exc)
        ]


def load_model(
    path: Path, model: type[M], *, root: Path | None = None
) -> tuple[M | None, list[Problem]]:
    """Load ``path`` and validate it as ``model``. Never raises for bad input.

    Problem files are shown relative to ``root`` when given. The model is returned only when
    the file has no errors.
    """
    doc, problems = load_document(path, root=root)
    if doc is None:
        return None, problems
    value, more = validate_document(doc, model)
    problems = sort_problems([*problems, *more])
    if any(p.is_error for p in problems):
        return None, problems
    return value, problems
