"""Who depends on whose events: the order in which hot reload swaps services.

A service that consumes another's events reloads after it (its consumers must see the new
event definitions), and a producer's changed events pull its consumers into the reload.
Pure functions of the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lcdev.definitions import ServiceDefinition

__all__ = ["consumers_of", "reload_waves"]


def consumers_of(
    services: Mapping[str, ServiceDefinition], producer: str, events: Iterable[str]
) -> set[str]:
    """Services with a ``consumes`` entry for one of ``events`` of ``producer``: named with
    ``from: producer``, or without ``from`` while no other service publishes that event (so an
    event ``producer`` just removed still finds its consumers)."""
    wanted = set(events)
    found: set[str] = set()
    for name, svc in services.items():
        for entry in svc.consumes:
            if entry.event not in wanted:
                continue
            source = entry.from_service
            if source == producer or (source is None and not _other_publishers(
                    services, entry.event, producer)):
                found.add(name)
    return found


def reload_waves(
    services: Mapping[str, ServiceDefinition], names: Iterable[str]
) -> list[list[str]]:
    """``names`` grouped in waves, producers before the services that consume their events;
    the members of one wave can reload concurrently. Services that consume each other's
    events (a cycle, as orders, inventory and payments in the shop) share a wave, placed
    after their other producers. Names missing from ``services`` (removed) depend on none."""
    wanted = list(dict.fromkeys(names))
    depends = {name: (_producers_of(services, name) - {name}) & set(wanted) for name in wanted}
    reach = {name: _reachable(name, depends) for name in wanted}
    cycle = {name: {n for n in reach[name] if name in reach[n]} | {name} for name in wanted}
    placed: set[str] = set()
    waves: list[list[str]] = []
    while len(placed) < len(wanted):
        wave = sorted(n for n in wanted if n not in placed
                      and all(depends[m] <= placed | cycle[n] for m in cycle[n]))
        waves.append(wave)
        placed.update(wave)
    return waves


def _reachable(start: str, depends: Mapping[str, set[str]]) -> set[str]:
    """Every name ``start`` depends on, directly or not."""
    seen: set[str] = set()
    todo = list(depends[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += depends[name]
    return seen


def _producers_of(services: Mapping[str, ServiceDefinition], name: str) -> set[str]:
    """The services publishing an event that ``name`` consumes."""
    svc = services.get(name)
    found: set[str] = set()
    for entry in svc.consumes if svc is not None else []:
        found |= {entry.from_service} if entry.from_service is not None else {
            p for p, other in services.items() if entry.event in other.publishes}
    return found


def _other_publishers(
    services: Mapping[str, ServiceDefinition], event: str, producer: str
) -> bool:
    return any(event in svc.publishes for name, svc in services.items() if name != producer)
