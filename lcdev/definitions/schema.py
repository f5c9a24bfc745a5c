"""JSON Schemas of ``lcdev.yaml`` and ``service.yaml`` for editors: completion, checks, help."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lcdev.definitions.service import ServiceDefinition
from lcdev.definitions.workspace import WorkspaceDefinition

__all__ = ["service_json_schema", "workspace_json_schema"]

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _add_titles(schema: dict[str, Any]) -> None:
    """Pydantic leaves out titles of properties that are references; editors show them."""
    models = [schema, *schema.get("$defs", {}).values()]
    for model in models:
        for key, prop in model.get("properties", {}).items():
            prop.setdefault("title", key.replace("_", " ").capitalize())


def _schema(model: type[BaseModel], schema_id: str, title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation", by_alias=True)
    _add_titles(schema)
    return {"$schema": _DIALECT, "$id": schema_id, **schema, "title": title}


def workspace_json_schema() -> dict[str, Any]:
    """JSON Schema of ``lcdev.yaml``."""
    return _schema(WorkspaceDefinition, "https://lcdev.dev/schema/lcdev.json", "lcdev workspace")


def service_json_schema() -> dict[str, Any]:
    """JSON Schema of ``services/<name>/service.yaml`` (short forms included)."""
    return _schema(ServiceDefinition, "https://lcdev.dev/schema/service.json", "lcdev service")
