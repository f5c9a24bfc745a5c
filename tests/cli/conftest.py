"""Running ``lcdev`` in-process through typer's ``CliRunner``, as a user would type it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lcdev.cli.main import app

# COLUMNS keeps rich from wrapping long paths at 80 columns; LCDEV_WORKSPACE must not leak in.
ENV: dict[str, str | None] = {"NO_COLOR": "1", "COLUMNS": "200", "LCDEV_WORKSPACE": None}


def lcdev(*args: str) -> Result:
    """Invoke the CLI; stdout and stderr stay apart (``result.stdout``/``result.stderr``)."""
    return CliRunner(env=ENV).invoke(app, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    """Text with every run of whitespace made one space, so wrapping does not matter."""
    return " ".join(text.split())


def init(root: Path, template: str = "shop", *extra: str) -> Path:
    result = lcdev("init", str(root), "--template", template, *extra)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A shop workspace created by ``lcdev init``, on ports picked at start-up."""
    return init(tmp_path / "shop", "shop", "--gateway-port", "0", "--postgres-port", "0",
                "--kafka-port", "0")
