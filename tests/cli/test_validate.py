"""``lcdev validate`` and ``lcdev schema``: problems at file:line:column, JSON for tools."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import flat, lcdev

ORDERS = Path("services/orders/service.yaml")
GOOD_LINE = "quantity: {type: integer, min: 1, max: 1000, required: true}"
BAD_LINE = "quantity: {type: intger, min: 1, max: 1000, required: true}"


def _break_orders(root: Path) -> tuple[int, int]:
    """Misspell a field type in orders; return the line and column of the bad value."""
    path = root / ORDERS
    text = path.read_text()
    assert GOOD_LINE in text
    path.write_text(text.replace(GOOD_LINE, BAD_LINE))
    for number, line in enumerate(text.splitlines(), start=1):
        if GOOD_LINE in line:
            return number, line.index("integer") + 1
    raise AssertionError("unreachable")


def test_valid_workspace_exits_0_with_a_summary(shop: Path) -> None:
    result = lcdev("validate", "-w", str(shop))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert flat(result.stderr) == "✓ 4 service(s) valid"


def test_workspace_is_found_from_a_nested_folder(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shop / "services" / "orders")
    result = lcdev("validate")
    assert result.exit_code == 0
    assert "4 service(s) valid" in result.stderr


def test_broken_service_is_reported_at_its_line_and_column(shop: Path) -> None:
    line, column = _break_orders(shop)
    result = lcdev("validate", "-w", str(shop))
    assert result.exit_code == 1
    message = flat(result.stderr)
    assert (
        f"services/orders/service.yaml:{line}:{column}: field 'quantity': unknown type "
        "'intger' (did you mean 'integer'?)"
    ) in message
    assert message.endswith("error: 1 error(s), 0 warning(s)")
    located = re.findall(r"^(services/orders/service\.yaml):(\d+):(\d+): ", result.stderr, re.M)
    assert located == [(ORDERS.as_posix(), str(line), str(column))]


def test_unknown_key_is_reported_where_it_is(shop: Path) -> None:
    path = shop / ORDERS
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, "bogus_key: 1", ""]))
    result = lcdev("validate", "-w", str(shop))
    assert result.exit_code == 1
    assert re.search(
        rf"^services/orders/service\.yaml:{len(lines) + 1}:1: .*bogus_key", result.stderr, re.M
    )


def test_json_output_lists_problems_and_valid_services(shop: Path) -> None:
    line, column = _break_orders(shop)
    result = lcdev("validate", "--json", "-w", str(shop))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == {
        "ok": False,
        "root": str(shop),
        "services": ["inventory", "notifications", "payments"],
        "problems": [
            {
                "file": "services/orders/service.yaml",
                "line": line,
                "column": column,
                "severity": "error",
                "message": "field 'quantity': unknown type 'intger' (did you mean 'integer'?)",
            }
        ],
    }
    assert result.stderr == ""


def test_json_output_of_a_valid_workspace(shop: Path) -> None:
    result = lcdev("validate", "--json", "-w", str(shop))
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert data["problems"] == []
    assert data["services"] == ["inventory", "notifications", "orders", "payments"]


def test_broken_lcdev_yaml_is_reported(shop: Path) -> None:
    lines = (shop / "lcdev.yaml").read_text().splitlines()
    line = lines.index("name: shop") + 1
    lines[line - 1] = "name: Shop!"
    (shop / "lcdev.yaml").write_text("\n".join(lines) + "\n")
    result = lcdev("validate", "--json", "-w", str(shop))
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert [(p["file"], p["line"], p["column"]) for p in problems] == [("lcdev.yaml", line, 7)]
    assert "Shop!" in problems[0]["message"]


def test_each_problem_is_one_line_when_piped(shop: Path) -> None:
    """CI logs and editor problem matchers read one ``file:line:col: message`` per line, and
    rich wraps at 80 columns when stderr is not a terminal: run a real process to see it."""
    line, column = _break_orders(shop)
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    result = subprocess.run(
        [sys.executable, "-m", "lcdev", "validate", "-w", str(shop)],
        capture_output=True, text=True, timeout=60, env={**env, "NO_COLOR": "1"},
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"services/orders/service.yaml:{line}:{column}: field 'quantity': unknown type "
        "'intger' (did you mean 'integer'?)"
    )


@pytest.mark.parametrize(
    ("kind", "required_property"),
    [("workspace", "name"), ("service", "name"), ("stack", "components")],
)
def test_schema_prints_a_json_schema(kind: str, required_property: str) -> None:
    result = lcdev("schema", kind)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert required_property in schema["properties"]


def test_schema_defaults_to_the_service_schema() -> None:
    assert json.loads(lcdev("schema").stdout) == json.loads(lcdev("schema", "service").stdout)


def test_schema_of_an_unknown_kind_is_a_usage_error() -> None:
    result = lcdev("schema", "gateway")
    assert result.exit_code == 2
    assert "gateway" in result.stderr
