"""Every command documents itself, and the CLI starts without importing heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lcdev.cli.main import app
from tests.cli.conftest import flat, lcdev

COMMANDS = sorted(
    command.name or (command.callback.__name__ if command.callback else "")
    for command in app.registered_commands
)


def test_every_expected_command_is_registered() -> None:
    assert COMMANDS == [
        "apply", "doctor", "down", "init", "logs", "metrics", "reloads", "schema", "status",
        "test", "token", "trace", "traces", "up", "validate"]


def test_top_level_help_lists_every_command() -> None:
    result = lcdev("--help")
    assert result.exit_code == 0
    text = flat(result.stdout)
    assert "Local dev environment for low-code and hand-written microservices." in text
    for command in COMMANDS:
        assert f" {command} " in text


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_exits_0(command: str, flag: str) -> None:
    result = lcdev(command, flag)
    assert result.exit_code == 0
    assert f"Usage: lcdev {command} [OPTIONS]" in flat(result.stdout)
    assert "--help" in result.stdout


HEAVY = ["pydantic", "asyncpg", "aiokafka", "starlette", "uvicorn", "httpx", "jinja2"]


def _heavy_modules_after(code: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy modules it ended up importing."""
    report = "\nimport json, sys\nsys.stderr.write(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code + report], capture_output=True, text=True, timeout=60
    )
    modules = json.loads(result.stderr.splitlines()[-1])
    assert "lcdev.cli.main" in modules
    heavy = set(HEAVY) - set(allowed)
    return [m for m in modules if m.split(".")[0] in heavy or m.startswith("lcdev.definitions")]


def test_importing_the_cli_does_not_import_heavy_libraries() -> None:
    """``lcdev status`` must start fast: the CLI defers the definitions model and every
    network, database and template library until a command needs it."""
    assert _heavy_modules_after("import lcdev.cli.main") == []


def test_status_runs_without_heavy_libraries(tmp_path: Path) -> None:
    """Running a command, not just importing the CLI. typer (>= 0.2x) itself imports pydantic
    to convert parameters, so only pydantic is allowed here."""
    (tmp_path / "lcdev.yaml").write_text("name: light\n")
    code = (
        "import contextlib\n"
        "from lcdev.cli.main import app\n"
        "with contextlib.suppress(SystemExit):\n"
        f"    app(['status', '--json', '-w', {str(tmp_path)!r}])\n"
    )
    assert _heavy_modules_after(code, allowed=("pydantic",)) == []
