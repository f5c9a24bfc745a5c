"""Events a service publishes (with a payload schema and a trigger) and consumes (with an action).

Published events go through the service's transactional outbox to the topic
``<service>.<Event>.v<major>``; consumers apply them idempotently.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from lcdev.definitions.common import DefinitionModel, EntityName, EventName, FieldName
from lcdev.definitions.fields import LIST_ELSEWHERE, FieldMap
from lcdev.definitions.guards import GuardText
from lcdev.definitions.issues import Issues

__all__ = ["ConsumedEvent", "ConsumerAction", "PublishedEvent", "Trigger"]

Trigger = Literal["created", "updated", "deleted", "endpoint"]
ConsumerAction = Literal["insert", "upsert", "update", "call"]


class PublishedEvent(DefinitionModel):
    """An event this service owns: its payload schema and when it is emitted."""

    description: str | None = Field(None, description="What happened (shown in AsyncAPI).")
    entity: EntityName | None = Field(
        None, description="Entity whose changes emit the event (with 'when')."
    )
    when: Trigger = Field(
        "endpoint",
        description="created, updated or deleted (of 'entity'), or endpoint: emitted by a"
        " custom endpoint's or workflow's 'publish' or by a handler.",
    )
    condition: GuardText | None = Field(
        None, alias="if", description="Only emit when the row satisfies this condition."
    )
    key: FieldName | None = Field(
        None, description="Payload field used as the message key (ordering); default: the first"
        " uuid field.",
    )
    payload: FieldMap = Field(
        default_factory=dict,
        description="Payload fields; for entity events, empty means all fields of the row.",
    )
    map: dict[FieldName, FieldName] = Field(
        default_factory=dict,
        description="Payload field -> entity field it is taken from (default: same name); from a"
        " list field (child collection) it copies the embedded children into a json field.",
    )
    topic: str | None = Field(None, description="Kafka topic; default <service>.<Event>.v<major>.")

    @model_validator(mode="after")
    def _consistent(self) -> PublishedEvent:
        issues = Issues()
        if self.when != "endpoint" and self.entity is None:
            issues.add(f"'when: {self.when}' needs the 'entity' whose changes emit the event")
        if self.entity is None and not self.payload:
            issues.add("an event without an entity needs a 'payload' schema")
        if self.map and self.entity is None:
            issues.add("'map' needs an 'entity' to take values from", "map")
        if self.condition is not None and self.entity is None:
            issues.add("'if' needs an 'entity' whose row it checks", "if")
        for fname, field in self.payload.items():
            if not field.is_column:
                issues.add(LIST_ELSEWHERE, "payload", fname, "type")
        issues.raise_if_any()
        return self


class ConsumedEvent(DefinitionModel):
    """What this service does when an event arrives."""

    event: EventName = Field(description="Name of the event consumed.")
    from_service: str | None = Field(
        None, alias="from", description="Service publishing it; needed when names are ambiguous."
    )
    action: ConsumerAction = Field(
        description="insert, upsert or update a row of 'entity', or call a custom 'endpoint'."
    )
    entity: EntityName | None = Field(None, description="Entity written by insert/upsert/update.")
    match: dict[FieldName, FieldName] = Field(
        default_factory=dict,
        description="Entity field -> payload field identifying the row (update, upsert).",
    )
    map: dict[FieldName, FieldName] = Field(
        default_factory=dict, description="Entity field -> payload field it is set from."
    )
    set_values: dict[FieldName, Any] = Field(
        default_factory=dict, alias="set", description="Entity field -> constant value."
    )
    endpoint: FieldName | None = Field(None, description="Custom endpoint called (action call).")
    condition: GuardText | None = Field(
        None, alias="if", description="Only act when the payload satisfies this condition."
    )
    description: str | None = Field(None, description="Why the service consumes the event.")

    @model_validator(mode="after")
    def _consistent(self) -> ConsumedEvent:
        issues = Issues()
        if self.action == "call":
            if self.endpoint is None:
                issues.add("action 'call' needs the 'endpoint' to call")
            for key in ("entity", "match", "map", "set"):
                name = "set_values" if key == "set" else key
                if name in self.model_fields_set:
                    issues.add(f"'{key}' is not used by action 'call'", key)
        else:
            if self.entity is None:
                issues.add(f"action '{self.action}' needs the 'entity' it writes")
            if self.action in ("update", "upsert") and not self.match:
                issues.add(f"action '{self.action}' needs 'match' to find the row")
            if self.endpoint is not None:
                issues.add("'endpoint' is only used by action 'call'", "endpoint")
        issues.raise_if_any()
        return self
