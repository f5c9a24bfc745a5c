"""Start-up planning: which components can start together, in dependency order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["PlanError", "start_waves"]


class PlanError(ValueError):
    """The dependency graph cannot be ordered (unknown dependency or a cycle)."""


def start_waves(depends_on: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Group components into waves: every wave only depends on earlier waves, so the members of
    one wave start in parallel. Names inside a wave keep the mapping's order."""
    for name, deps in depends_on.items():
        for dep in deps:
            if dep not in depends_on:
                raise PlanError(f"component '{name}' depends on unknown component '{dep}'")
    placed: set[str] = set()
    waves: list[list[str]] = []
    while len(placed) < len(depends_on):
        wave = [
            name
            for name, deps in depends_on.items()
            if name not in placed and all(dep in placed for dep in deps)
        ]
        if not wave:
            stuck = sorted(set(depends_on) - placed)
            raise PlanError(f"dependency cycle between components: {', '.join(stuck)}")
        waves.append(wave)
        placed.update(wave)
    return waves
