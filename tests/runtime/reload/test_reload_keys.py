"""What decides a reload (pure): unchanged, consumers replaced, relay replaced."""

from __future__ import annotations

from typing import Any

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.reload import consumers_key, relay_key, reshapes_stored_data, serving_key


def _producer(**payload: str) -> ServiceDefinition:
    return ServiceDefinition.model_validate({
        "name": "orders",
        "entities": {"Order": {"fields": {"total": "decimal(12, 2)!", "note": "text"}}},
        "publishes": {"OrderPlaced": {"entity": "Order", "when": "created",
                                      "map": {"order_id": "id"},
                                      "payload": {"order_id": "uuid!", **payload}}},
    })


def _consumer(**changes: Any) -> ServiceDefinition:
    data: dict[str, Any] = {
        "name": "audit", "version": "1.0.0",
        "entities": {"Entry": {"fields": {"order_id": "uuid!"}},
                     "Other": {"fields": {"x": "text"}}},
        "consumes": [{"event": "OrderPlaced", "from": "orders", "action": "insert",
                      "entity": "Entry", "map": {"order_id": "order_id"}}],
    }
    for key, value in changes.items():
        data[key] = value
    return ServiceDefinition.model_validate(data)


def _services(*services: ServiceDefinition) -> dict[str, ServiceDefinition]:
    return {s.name: s for s in services}


def test_the_served_definition_and_the_producers_events_decide_unchanged() -> None:
    producer, consumer = _producer(), _consumer()
    workspace = _services(producer, consumer)
    assert serving_key(consumer, workspace) == serving_key(_consumer(), _services(
        _producer(), _consumer()))
    assert serving_key(consumer, workspace) != serving_key(
        _consumer(version="1.0.1"), workspace)
    changed_event = _services(_producer(total="decimal(12, 2)"), consumer)
    assert serving_key(consumer, workspace) != serving_key(consumer, changed_event)
    minor = _producer().model_copy(update={"version": "0.2.0"})
    assert serving_key(consumer, workspace) == serving_key(consumer, _services(minor, consumer))
    major = _producer().model_copy(update={"version": "1.0.0"})  # its topics end in .v1
    assert serving_key(consumer, workspace) != serving_key(consumer, _services(major, consumer))


def test_consumers_are_replaced_only_when_what_they_do_changed() -> None:
    workspace = _services(_producer(), _consumer())
    key = consumers_key(_consumer(), workspace)
    other_entity = _consumer(entities={"Entry": {"fields": {"order_id": "uuid!"}},
                                       "Other": {"fields": {"x": "text", "y": "text"}}})
    assert consumers_key(other_entity, workspace) == key
    assert consumers_key(_consumer(version="2.0.0"), workspace) == key
    written = _consumer(entities={"Entry": {"fields": {"order_id": "uuid!", "n": "text"}},
                                  "Other": {"fields": {"x": "text"}}})
    assert consumers_key(written, workspace) != key
    published = _consumer(publishes={"Audited": {"payload": {"order_id": "uuid!"}}})
    assert consumers_key(published, workspace) != key
    assert consumers_key(_consumer(), _services(_producer(total="text"))) != key
    assert consumers_key(_consumer(consumes=[]), workspace) is None


def test_the_relay_is_replaced_when_the_published_events_changed() -> None:
    assert relay_key(_producer()) == relay_key(
        _producer().model_copy(update={"version": "2.0.0"}))
    assert relay_key(_producer()) != relay_key(_producer(note="text"))


def test_only_a_change_to_what_is_stored_already_holds_requests() -> None:
    def notes(fields: dict[str, Any], **entity: Any) -> ServiceDefinition:
        return ServiceDefinition.model_validate(
            {"name": "notes", "entities": {"Note": {"fields": fields, **entity}}})

    old = notes({"text": "string(20)!", "mood": "text"})
    assert not reshapes_stored_data(old, notes({"text": "string(20)!", "mood": "text",
                                                "more": "integer"}))
    assert not reshapes_stored_data(old, notes({"mood": "text", "text": "string(20)!"},
                                               description="order does not matter"))
    assert reshapes_stored_data(old, notes({"text": "string(40)!", "mood": "text"}))
    assert reshapes_stored_data(old, notes({"text": "string(20)!"}))
    assert reshapes_stored_data(old, notes({"text": "string(20)!", "mood": "text"},
                                           timestamps=False))
    assert reshapes_stored_data(old, ServiceDefinition.model_validate({"name": "notes"}))
