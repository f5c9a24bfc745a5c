"""Validation issues raised from inside models, with a location below the value that failed.

Pydantic reports a ``model_validator`` error at the model itself; a :class:`DefinitionError`
carries one or more sub-locations (``("default",)``, ``("max",)``) so the loader can point at the
exact key, and carries several messages so every problem of a value is reported at once.
"""

from __future__ import annotations

__all__ = ["DefinitionError", "Issues", "Loc"]

Loc = tuple[str | int, ...]


class DefinitionError(ValueError):
    """One or more problems of a value, each with a location relative to that value."""

    def __init__(self, issues: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(message for _, message in issues))
        self.issues = issues


class Issues:
    """Collects problems inside a validator, then raises them together."""

    def __init__(self) -> None:
        self._items: list[tuple[Loc, str]] = []

    def add(self, message: str, *at: str | int) -> None:
        """Record ``message`` at the sub-location ``at`` (empty: the value itself)."""
        self._items.append((tuple(at), message))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        """Raise a :class:`DefinitionError` when anything was recorded."""
        if self._items:
            raise DefinitionError(list(self._items))
