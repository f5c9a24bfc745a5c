"""Cross-reference checks inside one service: names used in one place must exist in another.

Relations and child collections, paths, endpoint guards and ``set`` values, event triggers and
mappings, consumer actions and route policies are checked against the service's own entities,
fields, events and settings.
"""

from __future__ import annotations

from typing import Any

from lcdev.definitions.children import check_children, check_column, entity_fields
from lcdev.definitions.guards import Guard, SettingRef
from lcdev.definitions.issues import Loc
from lcdev.definitions.paths import check_paths
from lcdev.definitions.problems import Problem, did_you_mean
from lcdev.definitions.reporting import Reporter, under_route
from lcdev.definitions.service import ServiceDefinition
from lcdev.definitions.yamlload import YamlDocument

__all__ = ["Reporter", "check_service", "under_route"]


def check_service(doc: YamlDocument, svc: ServiceDefinition) -> list[Problem]:
    """All intra-service reference problems of ``svc``."""
    rep = Reporter(doc)
    for ename, entity in svc.entities.items():
        for fname, field in entity.fields.items():
            if field.type == "ref" and field.entity is not None:
                loc: Loc = ("entities", ename, "fields", fname, "entity")
                rep.unknown(loc, "entity", field.entity, svc.entities, f"field '{fname}': ")
    check_children(rep, svc)
    check_paths(rep, svc)
    _check_endpoints(rep, svc)
    _check_publishes(rep, svc)
    _check_consumers(rep, svc)
    for wname, flow in svc.workflows.items():
        for i, step in enumerate(flow.steps):
            if step.publish is not None:
                loc = ("workflows", wname, "steps", i, "publish")
                rep.unknown(loc, "event", step.publish, svc.publishes, f"step '{step.name}': ")
    for i, route in enumerate(svc.gateway.routes):
        if not under_route(svc.route, route.path):
            rep.add(
                ("gateway", "routes", i, "path"),
                f"route policy path '{route.path}' is outside the service route '{svc.route}'",
            )
    return rep.problems


def _check_guard(
    rep: Reporter, loc: Loc, guard: Guard, fields: dict[str, Any], svc: ServiceDefinition,
    prefix: str,
) -> None:
    for cond in guard.conditions:
        if check_column(rep, loc, cond.field, fields, prefix):
            continue
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        for value in values:
            if isinstance(value, SettingRef):
                rep.unknown(loc, "setting", value.name, svc.settings, prefix)
            else:
                _check_enum_value(rep, loc, fields.get(cond.field), cond.field, value, prefix)


def _check_enum_value(
    rep: Reporter, loc: Loc, field: Any, name: str, value: Any, prefix: str
) -> None:
    allowed = getattr(field, "values", None)
    if getattr(field, "type", None) == "enum" and allowed and str(value) not in allowed:
        rep.add(
            loc,
            f"{prefix}'{value}' is not a value of field '{name}'"
            f" ({', '.join(allowed)}){did_you_mean(str(value), allowed)}",
        )


def _check_endpoints(rep: Reporter, svc: ServiceDefinition) -> None:
    for name, ep in svc.endpoints.items():
        base: Loc = ("endpoints", name)
        prefix = f"endpoint '{name}': "
        if ep.publish is not None:
            rep.unknown((*base, "publish"), "event", ep.publish, svc.publishes, prefix)
        if ep.entity is None or rep.unknown((*base, "entity"), "entity", ep.entity,
                                            svc.entities, prefix):
            continue
        fields = entity_fields(svc.entities[ep.entity])
        if ep.guard is not None:
            _check_guard(rep, (*base, "guard"), ep.guard, fields, svc, prefix)
        declared = dict(svc.entities[ep.entity].fields)
        for fname, value in ep.set_values.items():
            loc = (*base, "set", fname)
            if not check_column(rep, loc, fname, declared, prefix, at_key=True):
                _check_enum_value(rep, loc, fields[fname], fname, value, prefix)


def _check_publishes(rep: Reporter, svc: ServiceDefinition) -> None:
    for name, event in svc.publishes.items():
        base: Loc = ("publishes", name)
        prefix = f"event '{name}': "
        payload_names = list(event.payload)
        if event.entity is not None:
            if rep.unknown((*base, "entity"), "entity", event.entity, svc.entities, prefix):
                continue
            fields = entity_fields(svc.entities[event.entity])
            for pname, source in event.map.items():
                rep.unknown((*base, "map", pname), "payload field", pname, event.payload, prefix,
                            at_key=True)
                rep.unknown((*base, "map", pname), "entity field", source, fields, prefix)
            if event.condition is not None:
                _check_guard(rep, (*base, "if"), event.condition, fields, svc, prefix)
            for pname, pfield in event.payload.items():
                source = event.map.get(pname, pname)
                if pname not in event.map and pname not in fields:
                    rep.add(
                        (*base, "payload", pname),
                        f"{prefix}payload field '{pname}' is not a field of {event.entity};"
                        " add it to 'map' to say where it comes from",
                    )
                elif fields.get(source) is not None and not fields[source].is_column \
                        and pfield.type != "json":
                    rep.add(
                        (*base, "payload", pname),
                        f"{prefix}payload field '{pname}' takes the child collection '{source}'"
                        f" of {event.entity}; declare it as json",
                    )
            payload_names = payload_names or list(fields)
        if event.key is not None:
            rep.unknown((*base, "key"), "payload field", event.key, payload_names, prefix)


def _check_consumers(rep: Reporter, svc: ServiceDefinition) -> None:
    for i, consumer in enumerate(svc.consumes):
        base: Loc = ("consumes", i)
        prefix = f"consumer of '{consumer.event}': "
        if consumer.endpoint is not None:
            rep.unknown((*base, "endpoint"), "endpoint", consumer.endpoint, svc.endpoints, prefix)
        if consumer.entity is None or rep.unknown(
            (*base, "entity"), "entity", consumer.entity, svc.entities, prefix
        ):
            continue
        entity = svc.entities[consumer.entity]
        fields = entity_fields(entity)
        for key in ("match", "map"):
            for fname in getattr(consumer, key):
                check_column(rep, (*base, key, fname), fname, fields, prefix, at_key=True)
        declared = dict(entity.fields)
        for fname, value in consumer.set_values.items():
            loc = (*base, "set", fname)
            if not check_column(rep, loc, fname, declared, prefix, at_key=True):
                _check_enum_value(rep, loc, fields[fname], fname, value, prefix)
