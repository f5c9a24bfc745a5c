"""Custom endpoints of a low-code service: a guarded state change, an event, or a Python handler."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from lcdev.definitions.common import DefinitionModel, EntityName, EventName, FieldName
from lcdev.definitions.fields import LIST_ELSEWHERE, FieldMap
from lcdev.definitions.guards import GuardText
from lcdev.definitions.issues import Issues

__all__ = ["EndpointDefinition", "HttpMethod"]

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_HANDLER = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_PATH = re.compile(r"^/$|^(/[^/\s]+)+$")


class EndpointDefinition(DefinitionModel):
    """An endpoint beyond CRUD, e.g. ``POST /orders/{id}/cancel``.

    ``path`` is relative to the service route; :meth:`ServiceDefinition.endpoint_path` gives the
    full path (``/orders`` + ``/orders/{id}/cancel`` = ``/orders/orders/{id}/cancel``).

    Declarative form: load the ``entity`` row named by ``{id}``, check the ``guard`` (409 when it
    fails), apply ``set``, and ``publish`` an event in the same transaction. Escape hatch:
    ``handler: module:function`` runs Python code instead of ``set``.
    """

    method: HttpMethod = Field(description="HTTP method.")
    path: str = Field(
        description="Path relative to the service route: /orders/{id}/cancel in the route /orders"
        " is served at /orders/orders/{id}/cancel; '/' is the route itself."
    )
    summary: str | None = Field(None, description="One line shown in OpenAPI.")
    entity: EntityName | None = Field(None, description="Entity whose row {id} addresses.")
    guard: GuardText | None = Field(
        None, description="Condition on the row that must hold, else 409: status in [new]."
    )
    set_values: dict[FieldName, Any] = Field(
        default_factory=dict, alias="set", description="Field values written to the row."
    )
    publish: EventName | None = Field(
        None, description="Event (declared in publishes) emitted with the change."
    )
    request: FieldMap = Field(
        default_factory=dict, description="Fields of the JSON request body, if any."
    )
    handler: str | None = Field(
        None,
        description="Python escape hatch 'module:function', module relative to the service"
        " folder.",
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointDefinition:
        issues = Issues()
        if not _PATH.match(self.path):
            issues.add(
                f"path must look like '/orders/{{id}}/cancel' (relative to the service route),"
                f" found '{self.path}'",
                "path",
            )
        for fname, field in self.request.items():
            if not field.is_column:
                issues.add(LIST_ELSEWHERE, "request", fname, "type")
        if self.handler is not None:
            if not _HANDLER.match(self.handler):
                issues.add(
                    f"handler must look like 'module:function', found '{self.handler}'", "handler"
                )
            if self.set_values:
                issues.add("use either 'set' or 'handler', not both", "set")
        elif not self.set_values and self.publish is None:
            issues.add("an endpoint needs 'set', 'publish' or 'handler'")
        if (self.guard is not None or self.set_values) and self.entity is None:
            issues.add("'guard' and 'set' need the 'entity' the endpoint changes")
        if self.entity is not None and "{id}" not in self.path and self.handler is None:
            issues.add("an endpoint on an entity needs '{id}' in its path", "path")
        issues.raise_if_any()
        return self
