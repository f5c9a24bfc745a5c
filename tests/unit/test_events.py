"""Events cross the control API as JSON: every event class survives ``to_dict`` and back."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from lcdev.core import events
from lcdev.core.events import Event, event_from_dict

AT = 1_700_000_000.5

SAMPLES: dict[str, dict[str, Any]] = {
    "ComponentStarting": {"name": "postgres", "port": 15432, "attempt": 2},
    "ComponentReady": {"name": "postgres", "seconds": 1.25, "url": "postgresql://x@h:1/lcdev"},
    "ComponentFailed": {
        "name": "kafka",
        "reason": "kafka: exited with code 1",
        "hint": "run `lcdev doctor`",
        "last_lines": ["booting", "error: port taken"],
    },
    "ComponentCrashed": {
        "name": "gateway",
        "exit_code": None,
        "restart_in": 0.5,
        "last_lines": ["Traceback (most recent call last):"],
    },
    "ComponentRestarting": {"name": "gateway", "attempt": 3},
    "ComponentStopped": {"name": "gateway"},
    "LogLineEmitted": {"source": "postgres", "stream": "stderr", "text": "ready — ünïcode"},
    "StackReady": {"seconds": 3.5, "gateway_url": "http://127.0.0.1:8800"},
    "StackFailed": {"reason": "could not start kafka"},
    "StackStopping": {"remove_data": True},
    "StackStopped": {"removed_data": True},
    "ReloadStarted": {"services": ["orders"], "paths": ["services/orders/service.yaml"]},
    "ServiceReloaded": {
        "name": "orders", "how": "swapped", "version_before": "1.0.0", "version_after": "1.1.0",
        "changes": ["+ field Order.note"], "seconds": 0.042,
        "timings_ms": {"detect": 17.0, "total": 42.0}, "paths": ["services/orders/service.yaml"],
    },
    "ReloadFailed": {
        "name": "orders", "reason": "invalid", "message": "the definitions have errors",
        "problems": ["services/orders/service.yaml:12:5: error: unknown type 'strng'"],
        "hint": "", "paths": ["services/orders/service.yaml"],
    },
    "WorkspaceReloaded": {
        "applied": ["secrets: jwt_dev_key"], "needs_up": ["ports.postgres needs `lcdev up`"],
        "seconds": 0.01,
    },
}

EVENT_CLASSES = {
    name: cls
    for name in events.__all__
    if isinstance(cls := getattr(events, name), type)
    and issubclass(cls, Event)
    and cls is not Event
}


def test_every_event_class_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_CLASSES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_round_trip_through_json(name: str) -> None:
    event = EVENT_CLASSES[name](at=AT, **SAMPLES[name])
    data = event.to_dict()
    assert data["type"] == name
    assert data["at"] == AT
    assert {k: data[k] for k in SAMPLES[name]} == SAMPLES[name]
    rebuilt = event_from_dict(json.loads(json.dumps(data)))
    assert type(rebuilt) is type(event)
    assert rebuilt == event


def test_dicts_are_flat_with_a_type_field() -> None:
    data = events.StackFailed(reason="boom", at=AT).to_dict()
    assert data == {"type": "StackFailed", "at": AT, "reason": "boom"}


def test_defaults_fill_missing_optional_fields() -> None:
    rebuilt = event_from_dict({"type": "ComponentStarting", "name": "kafka", "port": 1})
    assert rebuilt == events.ComponentStarting(name="kafka", port=1, attempt=1, at=rebuilt.at)


def test_unknown_fields_are_ignored() -> None:
    rebuilt = event_from_dict({"type": "ComponentStopped", "name": "x", "at": AT, "new": 1})
    assert rebuilt == events.ComponentStopped(name="x", at=AT)


@pytest.mark.parametrize("data", [{"type": "ComponentExploded"}, {"name": "x"}])
def test_unknown_type_is_rejected(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        event_from_dict(data)


def test_events_are_immutable() -> None:
    event = events.ComponentStopped(name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.name = "y"  # type: ignore[misc]
