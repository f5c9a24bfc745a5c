"""Scalars ruamel's constructor cannot build (an impossible date, a lone dot) are problems,
never an exception: a hot reload of such a typo reports it and keeps serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcdev.definitions.yamlload import load_document


@pytest.mark.parametrize("text", ["when: 2024-13-01\n", "a: ._\n", "a: 0x_\n"])
def test_an_unbuildable_scalar_is_a_problem(tmp_path: Path, text: str) -> None:
    path = tmp_path / "service.yaml"
    path.write_text(text)
    document, problems = load_document(path)
    assert document is None
    assert len(problems) == 1
    assert problems[0].message.startswith("invalid YAML value (")
    assert "quote it" in problems[0].message
