"""Errors of the backend layer, kept in a module that imports nothing heavy."""

from __future__ import annotations

__all__ = ["BackendError"]


class BackendError(RuntimeError):
    """A component could not be prepared or launched; ``hint`` says what the user can do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
