"""Why a migration did not run: a destructive change that was not allowed, or a change the
database refused. In both cases the whole migration was rolled back: nothing changed."""

from __future__ import annotations

__all__ = ["DestructiveChangeRefused", "MigrationError", "MigrationFailed"]


class MigrationError(Exception):
    """A migration did not run; the schema is exactly as it was before."""


class DestructiveChangeRefused(MigrationError):
    """The definition needs changes that lose data; ``changes`` lists each in plain words."""

    def __init__(self, schema: str, changes: list[str]) -> None:
        self.schema = schema
        self.changes = list(changes)
        count = "1 destructive change" if len(changes) == 1 else (
            f"{len(changes)} destructive changes")
        lines = "\n".join(f"  - {change}" for change in changes)
        super().__init__(
            f"refused {count} to schema {schema}:\n{lines}\n"
            "Nothing was changed. To apply them, confirm the destructive migration"
            " (migrate(..., allow_destructive=True)); otherwise undo the edit, or make the"
            " change additive (a new optional field, or a default)."
        )


class MigrationFailed(MigrationError):
    """The database refused a change (for example a unique constraint that existing rows
    break, or a seed row that is invalid)."""

    def __init__(self, schema: str, change: str, reason: str) -> None:
        self.schema = schema
        self.change = change
        self.reason = reason
        super().__init__(f"migration of schema {schema} failed at: {change}: {reason}."
                         " Nothing was changed.")
