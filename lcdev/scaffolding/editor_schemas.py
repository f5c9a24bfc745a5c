"""Keeping ``.lcdev/schema/*.schema.json`` current, so editors validate and complete the
definition files (the modelines in scaffolded files point there; docs/editor-setup.md)."""

from __future__ import annotations

import json
from pathlib import Path

from lcdev.definitions import service_json_schema, workspace_json_schema

__all__ = ["write_editor_schemas"]


def write_editor_schemas(root: Path) -> list[Path]:
    """Write the JSON Schemas of lcdev.yaml and service.yaml; skip files already current.

    Best effort: on a read-only checkout nothing is written and nothing fails."""
    folder = root / ".lcdev" / "schema"
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, schema in (("lcdev", workspace_json_schema()),
                             ("service", service_json_schema())):
            path = folder / f"{name}.schema.json"
            text = json.dumps(schema, indent=2) + "\n"
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
                written.append(path)
    except OSError:
        pass
    return written
