"""Breaking changes of the events a service publishes: removed or renamed events, a new topic
or key, payload fields removed, retyped, or whose required-ness flipped.

An event whose payload is its entity's whole row in both versions is not compared field by
field here: the entity's field findings already name the event's consumers.
"""

from __future__ import annotations

from lcdev.contracts.breaking_fields import field_breaks, needs_value
from lcdev.contracts.breaking_model import Break, Dependents, Loc
from lcdev.definitions import PublishedEvent, ServiceDefinition
from lcdev.runtime.events.schema import payload_fields  # what the runtime really sends

__all__ = ["event_breaks"]

_NEW_VERSION = ("publish a new event (or a new major version, which gets a new topic) beside this"
                " one until its consumers moved")


def event_breaks(old: ServiceDefinition, new: ServiceDefinition, deps: Dependents) -> list[Break]:
    """What consumers of ``old``'s events rely on and ``new`` breaks."""
    found: list[Break] = []
    for name, event in old.publishes.items():
        whom = deps.of_event(old.name, name)
        if name not in new.publishes:
            twins = [n for n, e in new.publishes.items()
                     if n not in old.publishes and _same(e, event)]
            renamed = f" (renamed to {twins[0]}?)" if len(twins) == 1 else ""
            found.append(Break(f"- event {name}", f"event {name} removed{renamed}: breaks {whom}",
                               "keep publishing it (say 'deprecated' in its description) and "
                               + _NEW_VERSION, ("publishes", name), at_ref=True))
            continue
        now = new.publishes[name]
        if old.topic(name) != new.topic(name):
            loc: Loc = ("publishes", name, "topic") if now.topic else ("version",)
            found.append(Break(f"~ event {name} topic",
                               f"topic {old.topic(name)} → {new.topic(name)}: {whom} still read"
                               " the old topic", "keep the topic; " + _NEW_VERSION, loc))
        if event.key != now.key:
            found.append(Break(f"~ event {name} key", f"message key {event.key} → {now.key}:"
                               f" per-key ordering changes for {whom}", "keep the key",
                               ("publishes", name, "key")))
        if event.payload or now.payload or event.entity != now.entity:
            found += _payload_breaks(old, new, name, whom)
    return found


def _same(a: PublishedEvent, b: PublishedEvent) -> bool:
    exclude = {"description"}
    return a.model_dump(exclude=exclude) == b.model_dump(exclude=exclude)


def _payload_breaks(old: ServiceDefinition, new: ServiceDefinition, name: str,
                    whom: str) -> list[Break]:
    before, after = payload_fields(old, name), payload_fields(new, name)
    declared_before = bool(old.publishes[name].payload)
    declared_after = bool(new.publishes[name].payload)
    found: list[Break] = []
    for fname, field in before.items():
        if fname not in after:
            loc: Loc = ("publishes", name, "payload", fname) if declared_before else (
                "publishes", name)
            found.append(Break(f"- event {name}.{fname}",
                               f"payload field {fname} of {name} removed: breaks {whom}"
                               " (they read it)", "keep the field in the payload; " + _NEW_VERSION,
                               loc, at_ref=declared_before or not declared_after))
        elif aspects := field_breaks(field, after[fname], "payload"):
            where: Loc = ("publishes", name, "payload", fname, aspects[0].key) if declared_after \
                else ("entities", new.publishes[name].entity or "", "fields", fname)
            found.append(Break(f"~ event {name}.{fname}",
                               f"payload field {fname} of {name}: "
                               + "; ".join(a.detail for a in aspects) + f": breaks {whom}",
                               "keep the field as it was; " + _NEW_VERSION, where))
    for fname, field in after.items():
        if fname not in before and needs_value(field) and declared_after:
            found.append(Break(f"+ event {name}.{fname}",
                               f"new required payload field {fname} of {name}: messages already"
                               f" on the topic lack it; breaks {whom} replaying them",
                               "make it optional", ("publishes", name, "payload", fname)))
    return found
