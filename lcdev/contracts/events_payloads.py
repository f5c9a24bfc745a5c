"""Payloads for the runtime event check: valid ones generated from the producer's schema, and
one the consumer must refuse.

Valid payloads are drawn by schemathesis' JSON Schema generators (hypothesis, seeded) from the
schema the producer's AsyncAPI document gives the event's ``data`` (``event_payload_schema``:
decimals as bounded strings, uuids, embedded child rows). Objects are closed first: a producer
sends exactly its declared fields, so extra keys would test nothing but noise.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from lcdev.definitions import FieldDefinition, ServiceDefinition
from lcdev.runtime.api.asyncapi import event_payload_schema
from lcdev.runtime.events.schema import payload_fields

__all__ = ["generate_payloads", "invalid_payload"]

_PATH = "/event"
_EXAMPLES = 3


def _closed(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object that lists properties."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _closed(value) for key, value in schema.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


def _strategy(producer: ServiceDefinition, event: str) -> st.SearchStrategy[Any]:
    schemas: dict[str, Any] = {}
    data = event_payload_schema(producer, event, schemas)
    document = {
        "openapi": "3.0.3", "info": {"title": f"{producer.name}.{event}", "version": "1"},
        "paths": {_PATH: {"post": {
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _closed(data)}}},
            "responses": {"200": {"description": "consumed"}}}}},
        "components": {"schemas": _closed(schemas)},
    }
    operation = schemathesis.openapi.from_dict(document)[_PATH]["POST"]
    return operation.as_strategy().map(lambda case: case.body)


def generate_payloads(producer: ServiceDefinition, event: str, count: int,
                      seed: int | None) -> list[dict[str, Any]]:
    """``count`` payloads ``producer`` may publish as ``event`` (reproducible with ``seed``).

    One hypothesis example is a list of ``count`` payloads (a few examples, the last kept):
    drawing them one example each would cost a second per subscription."""
    drawn: list[list[Any]] = []

    @settings(max_examples=_EXAMPLES, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(_strategy(producer, event), min_size=count, max_size=count))
    def draw(bodies: list[Any]) -> None:
        drawn.append(bodies)

    run = hypothesis_seed(seed)(draw) if seed is not None else draw
    run()
    payloads = [body for body in drawn[-1] if isinstance(body, dict)] if drawn else []
    return _fresh_ids(payloads, payload_fields(producer, event), random.Random(seed))


def _fresh_ids(payloads: list[dict[str, Any]], fields: dict[str, FieldDefinition],
               rng: random.Random) -> list[dict[str, Any]]:
    """Payloads whose uuid fields hold distinct ids: hypothesis repeats values on purpose,
    while a producer's ids (a row's id, an order's id) are unique, and a consumer may rely on
    it (a unique column)."""
    ids = [name for name, f in fields.items() if f.type in ("uuid", "ref")]
    return [{**body, **{name: str(uuid.UUID(int=rng.getrandbits(128), version=4))
                        for name in ids if body.get(name) is not None}}
            for body in payloads]


def invalid_payload(valid: dict[str, Any], schema: dict[str, FieldDefinition],
                    used: frozenset[str]) -> tuple[dict[str, Any], str] | None:
    """A payload breaking the producer's schema where the consumer reads it, and how; None
    when the schema constrains nothing (then the envelope itself is made wrong)."""
    for name in sorted(used) + sorted(schema):
        field = schema.get(name)
        if field is not None and field.type != "json":
            return {**valid, name: {"not": "a " + field.type}}, f"'{name}' is an object"
    for name, field in schema.items():
        if field.required:
            return {k: v for k, v in valid.items() if k != name}, f"'{name}' is missing"
    return None
