"""Fixtures for unit tests: workspaces rendered from the real templates in ``scaffolds/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcdev.scaffolding.render import render_workspace


def make_workspace(parent: Path, template: str = "shop", **ports: int) -> Path:
    """Render ``template`` into ``parent/<template>``; every port is 0 unless given."""
    root = parent / template
    variables: dict[str, object] = {
        "name": template,
        "gateway_port": 0,
        "postgres_port": 0,
        "kafka_port": 0,
        **ports,
    }
    render_workspace(root, template, variables)
    return root


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A shop workspace (four services) whose ports are all picked at start-up."""
    return make_workspace(tmp_path)
