"""``load_model``: YAML syntax problems and validation errors at file:line:column."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lcdev.definitions import WorkspaceDefinition, load_model

from .conftest import Writer


class Component(BaseModel):
    """A stack component, like the models other packages pass to ``load_model``."""

    model_config = ConfigDict(extra="forbid")
    image: str
    port: int = Field(ge=0, le=65535)
    protocol: str = "tcp"


class Stack(BaseModel):
    """A stack file."""

    model_config = ConfigDict(extra="forbid")
    components: dict[str, Component]


def messages(path: Path, model: type[BaseModel], root: Path) -> list[str]:
    return [str(p) for p in load_model(path, model, root=root)[1]]


def test_valid_file_gives_model_and_no_problems(write: Writer, tmp_path: Path) -> None:
    path = write("stacks/default.yaml", "components:\n  postgres: {image: pg, port: 5432}\n")
    model, problems = load_model(path, Stack, root=tmp_path)
    assert problems == []
    assert model is not None
    assert model.components["postgres"].port == 5432


def test_generic_model_unknown_key_and_wrong_type(write: Writer, tmp_path: Path) -> None:
    path = write(
        "stacks/default.yaml",
        """\
        components:
          postgres:
            image: postgres:15
            prot: 5432
          kafka:
            image: tansu
            port: nine
        """,
    )
    model, problems = load_model(path, Stack, root=tmp_path)
    assert model is None
    assert [str(p) for p in problems] == [
        "stacks/default.yaml:2:3: component 'postgres': missing required key 'port'",
        "stacks/default.yaml:4:5: component 'postgres': unknown key 'prot' (did you mean 'port'?)",
        "stacks/default.yaml:7:11: component 'kafka': expected an integer,"
        " found 'nine' (a string)",
    ]


def test_syntax_error_position(write: Writer, tmp_path: Path) -> None:
    path = write("lcdev.yaml", "name: shop\nservices: [a, b\n")
    assert messages(path, WorkspaceDefinition, tmp_path) == [
        "lcdev.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
        " (while parsing a flow sequence started on line 2, column 11)"
    ]


def test_tab_indentation(write: Writer, tmp_path: Path) -> None:
    path = write("lcdev.yaml", "name: shop\ngateway:\n\tport: 1\n")
    assert messages(path, WorkspaceDefinition, tmp_path) == [
        "lcdev.yaml:3:1: tab character found; indent YAML with spaces only"
    ]


def test_every_duplicate_key_is_reported(write: Writer, tmp_path: Path) -> None:
    path = write(
        "lcdev.yaml",
        "name: shop\nstack: a\nname: other\nsecrets:\n  a: {env: X}\n  a: {env: Y}\n",
    )
    model, problems = load_model(path, WorkspaceDefinition, root=tmp_path)
    assert model is None
    assert [str(p) for p in problems] == [
        "lcdev.yaml:3:1: duplicate key 'name' (first defined on line 1)",
        "lcdev.yaml:6:3: duplicate key 'a' (first defined on line 5)",
    ]


def test_empty_and_non_mapping_files(write: Writer, tmp_path: Path) -> None:
    empty = write("empty.yaml", "")
    seq = write("list.yaml", "- a\n")
    assert messages(empty, WorkspaceDefinition, tmp_path) == [
        "empty.yaml:1:1: file is empty; expected a mapping of keys"
    ]
    assert messages(seq, WorkspaceDefinition, tmp_path) == [
        "list.yaml:1:1: expected a mapping of keys at the top of the file"
    ]


def test_many_problems_at_once_in_file_order(write: Writer, tmp_path: Path) -> None:
    path = write(
        "lcdev.yaml",
        """\
        description: no name
        secrets:
          k: inline-secret
          j: {env: A, file: b}
        ports: {postgres: -1, kafka: abc}
        services: services/*
        gateway: {port: eighty}
        """,
    )
    assert messages(path, WorkspaceDefinition, tmp_path) == [
        "lcdev.yaml:1:1: missing required key 'name'",
        "lcdev.yaml:3:6: secret 'k': a secret must be a reference such as"
        " {env: VAR, default: ...} or {file: path}; inline values are not allowed"
        " (use {dev_default: ...} for a development-only value)",
        "lcdev.yaml:4:3: secret 'j': a secret needs exactly one of 'env', 'file' or 'dev_default'",
        "lcdev.yaml:5:19: port 'postgres': must be at least 0, found -1 (an integer)",
        "lcdev.yaml:5:30: port 'kafka': expected an integer, found 'abc' (a string)",
        "lcdev.yaml:6:11: expected a list, found 'services/*' (a string)",
        "lcdev.yaml:7:17: expected an integer, found 'eighty' (a string)",
    ]


def test_file_outside_root_keeps_its_path(write: Writer, tmp_path: Path) -> None:
    path = write("elsewhere/lcdev.yaml", "name: Shop\n")
    (problem,) = load_model(path, WorkspaceDefinition, root=tmp_path / "other")[1]
    assert problem.file == path
    assert problem.message == (
        "invalid workspace name 'Shop': expected lower-case letters, digits and '-' (shop)"
    )
    assert (problem.line, problem.column) == (1, 7)
    assert problem.to_dict() == {
        "file": path.as_posix(),
        "line": 1,
        "column": 7,
        "severity": "error",
        "message": problem.message,
    }


def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    model, problems = load_model(tmp_path / "missing.yaml", WorkspaceDefinition, root=tmp_path)
    assert model is None
    assert len(problems) == 1
    assert str(problems[0]).startswith("missing.yaml:1:1: cannot read file:")
