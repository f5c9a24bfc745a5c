"""The AsyncAPI 3.0 document of a low-code service: the events it publishes and consumes.

One channel per topic (``service.topic(event)``, ``orders.OrderPlaced.v1``), a ``send``
operation per published event and a ``receive`` operation per consumed one. Every message is
the envelope the runtime puts on the wire (``{id, event, source, time, data}``), ``data`` being
the payload declared in ``publishes`` (the row when none is declared), with the headers
``lcdev-event-id``, ``lcdev-event`` and, when known, ``traceparent``/``tracestate``.

Names of channels, messages and schemas are ``<publisher>.<Event>`` so the events a service
consumes never clash with its own. A consumed event's schema comes from its publisher's
definition when the workspace is given; without it the channel address is ``null`` (resolved
at run time) and ``data`` is any object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.api.jsonschema import SCHEMA_REF, entity_schema, field_schema

__all__ = ["ASYNCAPI_VERSION", "KAFKA_BINDING", "asyncapi_document", "event_payload_schema"]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
_HEADERS = "lcdev.EventHeaders"
_TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["lcdev-event-id", "lcdev-event"],
        "properties": {
            "lcdev-event-id": {"type": "string", "format": "uuid",
                               "description": "The event's id (the envelope's id); consumers"
                               " skip ids they processed."},
            "lcdev-event": {"type": "string", "description": "The event name."},
            "traceparent": {"type": "string", "pattern": _TRACEPARENT,
                            "description": "W3C trace context of the change that emitted it."},
            "tracestate": {"type": "string"},
        },
    }


def event_payload_schema(
    service: ServiceDefinition, event: str, schemas: dict[str, Any]
) -> dict[str, Any]:
    """The schema of ``event``'s ``data``; entity schemas it refers to are added to
    ``schemas`` under ``<service>.<Entity>``."""
    declared = service.publishes[event]
    prefix = f"{SCHEMA_REF}{service.name}."
    entity = service.entities.get(declared.entity or "")

    def add_entity(name: str) -> None:
        key = f"{service.name}.{name}"
        if key not in schemas:
            schemas[key] = {}
            schemas[key] = entity_schema(service, name, ref_prefix=prefix)
            for child, _back in service.entities[name].child_collections().values():
                add_entity(child)

    if not declared.payload and entity is not None and declared.entity is not None:
        add_entity(declared.entity)
        return {"$ref": f"{prefix}{declared.entity}"}
    props: dict[str, Any] = {}
    for name, field in declared.payload.items():
        source = declared.map.get(name, name)
        column = entity.fields.get(source) if entity is not None else None
        if column is not None and column.type == "list" and column.entity is not None:
            add_entity(column.entity)
            items = {"$ref": f"{prefix}{column.entity}"}
            props[name] = {"type": "array", "items": items,
                           "description": f"The {column.entity} rows of the {declared.entity}."}
        else:
            props[name] = field_schema(field, name, ref_prefix=prefix)
    required = [n for n, f in declared.payload.items() if f.required]
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _envelope(source: str, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "event", "source", "time", "data"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "event": {"const": event},
            "source": {"const": source},
            "time": {"type": "string", "format": "date-time"},
            "data": data,
        },
    }


def _add_event(doc: dict[str, Any], publisher: ServiceDefinition | None, source: str,
               event: str) -> str:
    """Add the channel, message and schemas of ``source``'s ``event``; return the channel id."""
    key = f"{source}.{event}"
    if key in doc["channels"]:
        return key
    schemas = doc["components"]["schemas"]
    if publisher is not None and event in publisher.publishes:
        data = event_payload_schema(publisher, event, schemas)
        declared = publisher.publishes[event]
        address: str | None = publisher.topic(event)
        description = declared.description
        key_field = declared.key or next(
            (n for n, f in declared.payload.items() if f.type == "uuid"), None)
    else:
        data, address, description, key_field = {"type": "object"}, None, None, None
    schemas[f"{key}.payload"] = data
    schemas[f"{key}.envelope"] = _envelope(source, event, {"$ref": f"{SCHEMA_REF}{key}.payload"})
    message: dict[str, Any] = {
        "name": event, "title": event, "contentType": "application/json",
        "headers": {"$ref": SCHEMA_REF + _HEADERS},
        "payload": {"$ref": f"{SCHEMA_REF}{key}.envelope"},
        "bindings": {"kafka": {"key": {"type": "string", "description":
                                       f"The payload's {key_field}" if key_field else
                                       "The event's key"},
                               "bindingVersion": KAFKA_BINDING}},
    }
    if key_field:
        message["correlationId"] = {"location": f"$message.payload#/data/{key_field}"}
    if description:
        message["summary"] = description
    doc["components"]["messages"][key] = message
    channel: dict[str, Any] = {
        "address": address,
        "messages": {event: {"$ref": f"#/components/messages/{key}"}},
    }
    if address is not None:
        channel["bindings"] = {"kafka": {"topic": address, "partitions": 1,
                                         "bindingVersion": KAFKA_BINDING}}
    channel["description"] = description or (
        f"{event} from {source}" + ("" if address else "; topic resolved at run time"))
    doc["channels"][key] = channel
    return key


def _publisher_of(
    event: str, source: str | None, workspace: Mapping[str, ServiceDefinition]
) -> tuple[str, ServiceDefinition | None]:
    if source is not None:
        return source, workspace.get(source)
    for name, other in workspace.items():
        if event in other.publishes:
            return name, other
    return "unknown", None


def asyncapi_document(
    service: ServiceDefinition, workspace: Mapping[str, ServiceDefinition] | None = None
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``service``; ``workspace`` (service name -> definition)
    resolves the topics and payloads of the events it consumes."""
    others = dict(workspace or {})
    others.setdefault(service.name, service)
    info: dict[str, Any] = {"title": service.name, "version": service.version}
    if service.description:
        info["description"] = service.description
    if service.owner:
        info["contact"] = {"name": service.owner}
    doc: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION, "info": info, "defaultContentType": "application/json",
        "channels": {}, "operations": {},
        "components": {"schemas": {_HEADERS: _headers_schema()}, "messages": {}},
    }
    for event, declared in service.publishes.items():
        key = _add_event(doc, service, service.name, event)
        trigger = (f"when a {declared.entity} is {declared.when}" if declared.when != "endpoint"
                   else "by an endpoint, workflow or handler")
        if declared.condition is not None:
            trigger += f" and {declared.condition.text}"
        doc["operations"][f"send.{key}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Published {trigger}, through the transactional outbox.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{event}"}],
        }
    for consumer in service.consumes:
        source, publisher = _publisher_of(consumer.event, consumer.from_service, others)
        key = _add_event(doc, publisher, source, consumer.event)
        what = (f"calls endpoint {consumer.endpoint}" if consumer.action == "call"
                else f"{consumer.action}s a {consumer.entity}")
        if consumer.condition is not None:
            what += f" when {consumer.condition.text}"
        operation = doc["operations"].setdefault(f"receive.{key}", {
            "action": "receive", "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{consumer.event}"}],
            "summary": "Consumed idempotently (event ids are remembered): ",
        })
        operation["summary"] += ("" if operation["summary"].endswith(": ") else "; ") + what
    return doc
