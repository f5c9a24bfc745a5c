"""Workflows (sagas): ordered steps that call endpoints, publish or await events, with retries,
timeouts and compensation run in reverse order when a later step fails."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from lcdev.definitions.common import DefinitionModel, Duration, EventName, FieldName
from lcdev.definitions.issues import Issues

__all__ = ["AwaitSpec", "RetryPolicy", "WorkflowDefinition", "WorkflowStep", "split_call"]

_CALL = re.compile(r"^[a-z][a-z0-9-]*\.[a-z][a-z0-9_]*$")


def split_call(target: str) -> tuple[str, str]:
    """``inventory.reserve_stock`` -> ``("inventory", "reserve_stock")``."""
    service, _, endpoint = target.partition(".")
    return service, endpoint


def _check_call(issues: Issues, value: str | None, key: str) -> None:
    if value is not None and not _CALL.match(value):
        issues.add(f"expected 'service.endpoint' such as 'inventory.reserve', found '{value}'", key)


class RetryPolicy(DefinitionModel):
    """How a failing step is retried."""

    attempts: int = Field(3, ge=1, le=100, description="Total attempts, the first included.")
    backoff: Literal["exponential", "linear", "fixed"] = Field(
        "exponential", description="How the delay grows between attempts."
    )
    initial: Duration = Field(timedelta(milliseconds=100), description="First delay.")
    max: Duration = Field(timedelta(seconds=5), description="Longest delay.")
    jitter: bool = Field(True, description="Randomise delays to spread retries.")

    @model_validator(mode="after")
    def _consistent(self) -> RetryPolicy:
        if self.initial > self.max:
            issues = Issues()
            issues.add("'initial' delay is longer than 'max'", "initial")
            issues.raise_if_any()
        return self


class AwaitSpec(DefinitionModel):
    """Wait for an event whose correlation field matches the workflow's key."""

    event: EventName = Field(description="Event awaited.")
    correlate: FieldName = Field(description="Payload field holding the workflow's key value.")
    timeout: Duration = Field(timedelta(seconds=30), description="Give up (and compensate) after.")


class WorkflowStep(DefinitionModel):
    """One step: exactly one of ``call``, ``publish`` or ``await``."""

    name: FieldName = Field(description="Step name, unique in the workflow.")
    call: str | None = Field(None, description="Endpoint called: 'service.endpoint'.")
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="Request values; strings like '{order_id}' take workflow context values.",
    )
    publish: EventName | None = Field(None, description="Event of this service to publish.")
    await_: AwaitSpec | None = Field(None, alias="await", description="Event to wait for.")
    retry: RetryPolicy | None = Field(None, description="Retries when the step fails.")
    timeout: Duration | None = Field(None, description="Time limit of one attempt.")
    compensate: str | None = Field(
        None, description="Endpoint 'service.endpoint' that undoes this step if a later one fails."
    )

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowStep:
        issues = Issues()
        actions = [k for k in ("call", "publish", "await_") if getattr(self, k) is not None]
        if len(actions) != 1:
            found = ", ".join(a.rstrip("_") for a in actions) or "none"
            issues.add(f"a step needs exactly one of call, publish or await (found {found})")
        _check_call(issues, self.call, "call")
        _check_call(issues, self.compensate, "compensate")
        issues.raise_if_any()
        return self


class WorkflowDefinition(DefinitionModel):
    """A saga started by an event (or an endpoint), keyed by one payload field."""

    description: str | None = Field(None, description="What the workflow achieves.")
    trigger: EventName = Field(description="Event that starts an instance.")
    key: FieldName = Field(description="Payload field identifying the instance (e.g. order_id).")
    timeout: Duration | None = Field(None, description="Time limit of the whole workflow.")
    steps: list[WorkflowStep] = Field(min_length=1, description="Steps, run in order.")

    @model_validator(mode="after")
    def _consistent(self) -> WorkflowDefinition:
        issues = Issues()
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.name in seen:
                issues.add(f"duplicate step name '{step.name}'", "steps", i, "name")
            seen.add(step.name)
        issues.raise_if_any()
        return self
