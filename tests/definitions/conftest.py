"""Fixtures for the definitions tests: small workspaces written into ``tmp_path``."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOP_SERVICES = REPO / "scaffolds" / "workspace-shop" / "services"

SHOP_LCDEV = """\
name: shop                 # workspace name
stack: default
services: ["services/*"]
gateway:
  port: 8800
ports:
  postgres: 15432
secrets:
  jwt_dev_key: {env: SHOP_JWT_KEY, default: "dev-only-not-secret"}
telemetry:
  forward: null
"""

Writer = Callable[[str, str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """Write a dedented file below ``tmp_path`` and return its path."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A workspace made of the shop scaffold's services and a typical lcdev.yaml."""
    shutil.copytree(SHOP_SERVICES, tmp_path / "services")
    (tmp_path / "lcdev.yaml").write_text(SHOP_LCDEV, encoding="utf-8")
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact occurrence of ``old`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")
