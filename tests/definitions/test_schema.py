"""JSON Schemas: documented fields, short forms accepted, and the shop examples validate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from lcdev.definitions import parse_guard, service_json_schema, workspace_json_schema

from .conftest import SHOP_LCDEV, SHOP_SERVICES


def check(schema: dict[str, Any], value: Any, root: dict[str, Any], path: str = "$") -> list[str]:
    """A small JSON Schema checker covering the keywords the generated schemas use."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return check(root["$defs"][name], value, root, path)
    if "anyOf" in schema:
        results = [check(option, value, root, path) for option in schema["anyOf"]]
        return [] if any(not r for r in results) else [f"{path}: no anyOf option matches"]
    if "not" in schema:
        return [f"{path}: matches 'not'"] if not check(schema["not"], value, root, path) else []
    errors: list[str] = []
    types = schema.get("type")
    if types is not None:
        allowed = types if isinstance(types, list) else [types]
        kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
        ok = any(
            (t == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (t == "number" and isinstance(value, int | float) and not isinstance(value, bool))
            or (t in kinds and isinstance(value, kinds[t]))
            for t in allowed
        )
        if not ok:
            return [f"{path}: expected {allowed}, found {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        for key, item in value.items():
            if key in props:
                errors += check(props[key], item, root, f"{path}.{key}")
                continue
            patterns = schema.get("patternProperties", {})
            matched = [s for p, s in patterns.items() if re.search(p, key)]
            extra = schema.get("additionalProperties", True)
            if matched:
                errors += check(matched[0], item, root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {key}")
            elif isinstance(extra, dict):
                errors += check(extra, item, root, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += check(schema["items"], item, root, f"{path}[{i}]")
    return errors


def plain_yaml(text: str) -> Any:
    return json.loads(json.dumps(YAML(typ="safe").load(text)))


SHOP_FILES = sorted(SHOP_SERVICES.glob("*/service.yaml"))


@pytest.mark.parametrize("path", SHOP_FILES, ids=[p.parent.name for p in SHOP_FILES])
def test_shop_services_validate_against_schema(path: Path) -> None:
    assert len(SHOP_FILES) == 4
    schema = service_json_schema()
    assert check(schema, plain_yaml(path.read_text()), schema) == []


def test_workspace_example_validates_and_bad_one_does_not() -> None:
    schema = workspace_json_schema()
    assert check(schema, plain_yaml(SHOP_LCDEV), schema) == []
    bad = plain_yaml("name: Shop\nprots: {}\nsecrets: {k: inline}\n")
    assert check(schema, bad, schema) == [
        "$.name: 'Shop' does not match ^[a-z][a-z0-9-]*$",
        "$: unexpected key prots",
        "$.secrets.k: no anyOf option matches",
    ]


def test_schema_rejects_unknown_field_type_and_keys() -> None:
    schema = service_json_schema()
    doc = plain_yaml("name: orders\nentities:\n  Order:\n    fields:\n      total: decmal\n"
                     "      n: {type: integer, requird: true}\n")
    assert check(schema, doc, schema) == [
        "$.entities.Order.fields.total: no anyOf option matches",
        "$.entities.Order.fields.n: no anyOf option matches",
    ]


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("$", schema)] + [(name, d) for name, d in schema.get("$defs", {}).items()]
    return [
        (f"{owner}.{key}", prop)
        for owner, model in found
        for key, prop in model.get("properties", {}).items()
    ]


@pytest.mark.parametrize("make", [workspace_json_schema, service_json_schema])
def test_every_property_has_title_and_description(make: Any) -> None:
    schema = make()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    missing = [name for name, prop in _properties(schema)
               if "description" not in prop or "title" not in prop]
    assert missing == []
    undocumented = [name for name, d in schema.get("$defs", {}).items()
                    if "description" not in d and d.get("type") == "object"]
    assert undocumented == []


def test_guard_parsing() -> None:
    guard = parse_guard("status in [new, 'on hold'] and total <= settings.limit and ok == true")
    assert [(c.field, c.op) for c in guard.conditions] == [
        ("status", "in"), ("total", "<="), ("ok", "==")]
    assert guard.conditions[0].value == ("new", "on hold")
    assert guard.conditions[2].value is True
    with pytest.raises(ValueError, match="cannot read condition 'status is new'"):
        parse_guard("status is new")


def test_definitions_import_no_outer_library() -> None:
    code = (
        "import sys, lcdev.definitions\n"
        "bad = {'typer', 'rich', 'textual', 'docker', 'starlette', 'uvicorn', 'httpx',"
        " 'asyncpg', 'psycopg', 'aiokafka', 'sqlalchemy', 'jinja2'}\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "other = {m for m in sys.modules if m.startswith('lcdev.')"
        " and not m.startswith('lcdev.definitions')}\n"
        "print(sorted(bad & loaded), sorted(other))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[] []"
