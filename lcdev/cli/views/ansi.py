"""Styled text to terminal output in one string, for output too fast for rich's printer.

``console.print`` costs ~0.1–0.2 ms a line (measure, wrap, segment), which caps
``lcdev logs -f`` at a few thousand lines a second. Log lines need none of that: they are
never wrapped (the terminal folds long ones) and their styles repeat, so each style's escape
codes are computed once by rich (``Style.render``) and the pieces joined. The console still
decides: no escape codes when it is not a terminal, no colours with ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from rich.color import ColorSystem
from rich.console import COLOR_SYSTEMS, Console
from rich.style import Style

__all__ = ["render_lines"]


def render_lines(lines: Iterable[Iterable[tuple[str, str]]], console: Console) -> str:
    """Each line's ``(text, style)`` pieces, styled as ``console`` would, one line each."""
    name = console.color_system
    if name is None:  # a pipe or a file: plain text
        return "".join("".join(text for text, _ in line) + "\n" for line in lines)
    system = COLOR_SYSTEMS[name]
    no_color = console.no_color
    return "".join(
        "".join(_styled(text, style, system, no_color) if style else text
                for text, style in line) + "\n"
        for line in lines)


def _styled(text: str, style: str, system: ColorSystem, no_color: bool) -> str:
    if not text:
        return text
    start, end = _codes(style, system, no_color)
    if "\n" in text:  # styles end at a line's end and start again, as rich does
        return "\n".join(f"{start}{part}{end}" if part else part for part in text.split("\n"))
    return f"{start}{text}{end}"


@lru_cache(maxsize=256)
def _codes(style: str, system: ColorSystem, no_color: bool) -> tuple[str, str]:
    """The escape codes before and after text of ``style`` (rich computes them)."""
    parsed = Style.parse(style)
    if no_color:
        parsed = parsed.without_color
    rendered = parsed.render("\0", color_system=system)
    start, _, end = rendered.partition("\0")
    return start, end
