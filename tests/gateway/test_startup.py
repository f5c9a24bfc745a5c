"""The gateway process starts light: no pydantic, no definitions model, no PyJWT unless needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ["pydantic", "lcdev.definitions", "jwt", "cryptography", "lcdev.gateway.builder"]
PROGRAM = """
import json, sys
from pathlib import Path
import lcdev.gateway.__main__
from lcdev.gateway.routes import RouteTable
RouteTable.from_file(Path(sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_loading(tmp_path: Path, config: dict[str, Any]) -> set[str]:
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(config))
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(path)], capture_output=True,
                            text=True, timeout=60, check=True)
    return set(json.loads(result.stdout))


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_the_gateway_process_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = _modules_after_loading(tmp_path, {"routes": [
        {"service": "orders", "prefix": "/orders", "upstream": "http://127.0.0.1:9",
         "policy": {"auth": {"type": "api_key", "key_sha256": []}}}]})
    assert [name for name in HEAVY if _loaded(modules, name)] == []
    assert "httptools" in modules


@pytest.mark.parametrize("auth", [{"type": "jwt", "hs256_key": "k"}])
def test_pyjwt_is_imported_when_a_route_needs_it(tmp_path: Path, auth: dict[str, Any]) -> None:
    modules = _modules_after_loading(tmp_path, {"routes": [
        {"service": "orders", "prefix": "/orders", "policy": {"auth": auth}}]})
    assert _loaded(modules, "jwt")
    assert not _loaded(modules, "pydantic")
