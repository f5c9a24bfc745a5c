"""The ``service.yaml`` model: a low-code service (entities, API, events, workflows) or a code
service (``kind: process``: a command the supervisor runs)."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from lcdev.definitions.common import (
    DefinitionModel,
    EntityName,
    EventName,
    FieldName,
    ServiceName,
    ShortForm,
)
from lcdev.definitions.endpoints import EndpointDefinition
from lcdev.definitions.entities import EntityDefinition, back_refs, plural_path
from lcdev.definitions.events import ConsumedEvent, PublishedEvent
from lcdev.definitions.issues import Issues
from lcdev.definitions.policy import GatewayPolicy
from lcdev.definitions.settings import SettingMap
from lcdev.definitions.workflows import WorkflowDefinition

__all__ = ["ProcessSpec", "ServiceDefinition", "ServiceKind"]

ServiceKind = Literal["lowcode", "process"]
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
_ROUTE = re.compile(r"^(/[a-z0-9][a-z0-9._-]*)+$")


def _split_command(value: Any) -> Any:
    return shlex.split(value) if isinstance(value, str) else value


class ProcessSpec(DefinitionModel):
    """How the supervisor runs a code service."""

    command: Annotated[
        list[str],
        ShortForm(_split_command, {"type": "string", "description": "Command line, shell-split."}),
    ] = Field(min_length=1, description="Command to run: a list, or a string split like a shell.")
    port: int | None = Field(
        None, ge=0, le=65535,
        description="Port the process listens on; omitted or 0: the supervisor picks a free one"
        " and passes it as $PORT.",
    )
    health: str | None = Field(
        None, description="HTTP path answering 2xx when ready; omitted: the port accepting"
        " connections is enough.",
    )
    openapi: str | None = Field(None, description="Path of the service's OpenAPI document.")
    cwd: str = Field(".", description="Working directory, relative to the service folder.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment; values may use ${secrets.NAME} for workspace secrets.",
    )
    watch: list[str] = Field(
        default_factory=list,
        description="Globs (relative to the service folder) whose changes restart the process;"
        " empty: every file of the folder.",
    )

    @field_validator("health", "openapi")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"path must start with '/', found '{value}'")
        return value


class ServiceDefinition(DefinitionModel):
    """One service of the workspace, loaded from ``services/<name>/service.yaml``."""

    name: ServiceName = Field(description="Service name; must equal the folder name.")
    version: str = Field(
        "0.1.0", description="Semantic version; its major is the API and event contract version."
    )
    owner: str | None = Field(None, description="Team or person owning the service.")
    description: str | None = Field(None, description="What the service does.")
    kind: ServiceKind = Field(
        "lowcode", description="lowcode: served from this file; process: a command you write."
    )
    route: str = Field(
        "", description="Path prefix at the gateway; default /<name>. All paths lie below it."
    )
    process: ProcessSpec | None = Field(None, description="How to run a process service.")
    settings: SettingMap = Field(default_factory=dict, description="Configurable values.")
    entities: dict[EntityName, EntityDefinition] = Field(
        default_factory=dict, description="Entity name (PascalCase) -> entity."
    )
    endpoints: dict[FieldName, EndpointDefinition] = Field(
        default_factory=dict, description="Endpoint name -> custom endpoint beyond CRUD."
    )
    publishes: dict[EventName, PublishedEvent] = Field(
        default_factory=dict, description="Event name (PascalCase) -> event this service owns."
    )
    consumes: list[ConsumedEvent] = Field(
        default_factory=list, description="Events this service reacts to."
    )
    workflows: dict[FieldName, WorkflowDefinition] = Field(
        default_factory=dict, description="Workflow name -> saga."
    )
    gateway: GatewayPolicy = Field(
        default_factory=GatewayPolicy, description="Auth, rate limits and CORS at the gateway."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_route(cls, data: Any) -> Any:
        if isinstance(data, dict) and "route" not in data and isinstance(data.get("name"), str):
            return {**data, "route": "/" + data["name"]}
        return data

    @field_validator("version", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(
                f"expected a semantic version like '1.2.0', found {value} (a number);"
                " write three parts or quote it"
            )
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not _SEMVER.match(value):
            raise ValueError(f"expected a semantic version like '1.2.0', found '{value}'")
        return value

    @field_validator("route")
    @classmethod
    def _route(cls, value: str) -> str:
        if not _ROUTE.match(value):
            raise ValueError(f"expected a path prefix like '/orders', found '{value}'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceDefinition:
        issues = Issues()
        if self.kind == "process":
            if self.process is None:
                issues.add("missing required key 'process' (a process service needs a command)")
            for key in ("entities", "endpoints", "consumes", "workflows"):
                if getattr(self, key):
                    issues.add(f"'{key}' is only for low-code services, not kind 'process'", key)
        elif self.process is not None:
            issues.add("'process' is only for kind 'process' (add 'kind: process')", "process")
        issues.raise_if_any()
        for name, entity in self.entities.items():
            entity.bind_children(self._resolve_children(name, entity))
        return self

    def _resolve_children(
        self, parent: str, entity: EntityDefinition
    ) -> dict[str, tuple[str, str]]:
        """Child collections of ``entity`` whose child has exactly one ref back to it."""
        found: dict[str, tuple[str, str]] = {}
        for fname, field in entity.fields.items():
            child = self.entities.get(field.entity or "") if field.type == "list" else None
            if child is None:
                continue
            refs = back_refs(child, parent)
            if len(refs) == 1:
                found[fname] = (field.entity or "", refs[0])
        return found

    @property
    def api_major(self) -> int:
        """The major version: the version of the API and event contracts."""
        return int(self.version.split(".", 1)[0])

    def collection_path(self, entity: str) -> str:
        """Full gateway path of an entity's collection: ``route`` + the entity's ``path``.

        The default ``path`` is ``/`` + the plural kebab-case name: ``Order`` in the route
        ``/orders`` -> ``/orders/orders``, ``OrderLine`` -> ``/orders/order-lines``.
        """
        declared = self.entities[entity].path or "/" + plural_path(entity)
        return self.route + declared

    def endpoint_path(self, name: str) -> str:
        """Full gateway path of a custom endpoint: ``route`` + its ``path`` (relative).

        ``path: /orders/{id}/cancel`` in the route ``/orders`` -> ``/orders/orders/{id}/cancel``;
        ``path: /`` is the route itself.
        """
        path = self.endpoints[name].path
        return self.route if path == "/" else self.route + path

    def crud_routes(self, entity: str) -> list[tuple[str, str]]:
        """(method, full path) of the CRUD operations generated for ``entity``."""
        base = self.collection_path(entity)
        item = f"{base}/{{id}}"
        table = {
            "list": [("GET", base)], "create": [("POST", base)], "get": [("GET", item)],
            "update": [("PATCH", item), ("PUT", item)], "delete": [("DELETE", item)],
        }
        return [route for op in self.entities[entity].crud for route in table[op]]

    def topic(self, event: str) -> str:
        """The Kafka topic of one of this service's events."""
        declared = self.publishes.get(event)
        if declared is not None and declared.topic:
            return declared.topic
        return f"{self.name}.{event}.v{self.api_major}"
