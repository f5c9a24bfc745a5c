"""Cross-reference checks across the workspace: events, workflow calls, routes and secrets.

Each check reports at the file, line and column of the name that does not resolve.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from lcdev.definitions.guards import SettingRef
from lcdev.definitions.issues import Loc
from lcdev.definitions.problems import Problem, did_you_mean
from lcdev.definitions.service import ServiceDefinition
from lcdev.definitions.servicerefs import Reporter, check_service, under_route
from lcdev.definitions.workflows import split_call
from lcdev.definitions.workspace import WorkspaceDefinition
from lcdev.definitions.yamlload import YamlDocument

__all__ = ["LoadedService", "check_workspace", "event_payload_fields"]

_NO_FIELD = "event {what} has no field '{name}'"
_SECRET_USE = re.compile(r"\$\{secrets\.([A-Za-z0-9_-]+)\}")


@dataclass(frozen=True)
class LoadedService:
    """A schema-valid service with the document it came from (for positions)."""

    doc: YamlDocument
    service: ServiceDefinition


def event_payload_fields(svc: ServiceDefinition, event: str) -> list[str] | None:
    """Field names of an event's payload (the row's fields when no payload is declared)."""
    declared = svc.publishes.get(event)
    if declared is None:
        return None
    if declared.payload or declared.entity is None:
        return list(declared.payload)
    entity = svc.entities.get(declared.entity)
    if entity is None:
        return None
    return entity.all_field_names()


def check_workspace(
    workspace: WorkspaceDefinition | None,
    workspace_doc: YamlDocument | None,
    services: Mapping[str, LoadedService],
    broken: Collection[str] = (),
) -> list[Problem]:
    """Intra-service and cross-service reference problems of every loaded service.

    ``broken`` names services present in the workspace that failed to load: references to them
    are not reported again.
    """
    problems: list[Problem] = []
    publishers: dict[str, list[str]] = {}
    for name, loaded in services.items():
        for event in loaded.service.publishes:
            publishers.setdefault(event, []).append(name)
    for name, loaded in services.items():
        rep = Reporter(loaded.doc)
        problems += check_service(loaded.doc, loaded.service)
        _check_consumers(rep, loaded.service, services, publishers, broken)
        _check_workflows(rep, loaded.service, services, publishers)
        _check_routes(rep, name, services)
        if workspace is not None:
            _check_secrets(rep, loaded.service, workspace)
        problems += rep.problems
    return problems


def _publisher(
    rep: Reporter, loc: Loc, event: str, source: str | None,
    services: Mapping[str, LoadedService], publishers: Mapping[str, list[str]], prefix: str,
    broken: Collection[str] = (),
) -> ServiceDefinition | None:
    """The service publishing ``event`` (reporting why there is none)."""
    if source is not None:
        if source in broken:
            return None
        if source not in services:
            rep.add(
                (*loc[:-1], "from"),
                f"{prefix}service '{source}' is not in this workspace; the event contract is"
                " not checked",
                "warning",
            )
            return None
        if event not in services[source].service.publishes:
            rep.add(loc, f"{prefix}service '{source}' does not publish '{event}'"
                    + did_you_mean(event, services[source].service.publishes))
            return None
        return services[source].service
    names = publishers.get(event, [])
    if not names:
        rep.add(loc, f"{prefix}no service in the workspace publishes '{event}'"
                + did_you_mean(event, publishers))
        return None
    if len(names) > 1:
        rep.add(loc, f"{prefix}'{event}' is published by {' and '.join(sorted(names))};"
                " say which with 'from'")
        return None
    return services[names[0]].service


def _check_consumers(
    rep: Reporter, svc: ServiceDefinition, services: Mapping[str, LoadedService],
    publishers: Mapping[str, list[str]], broken: Collection[str],
) -> None:
    for i, consumer in enumerate(svc.consumes):
        prefix = f"consumer of '{consumer.event}': "
        loc: Loc = ("consumes", i, "event")
        source = _publisher(rep, loc, consumer.event, consumer.from_service, services,
                            publishers, prefix, broken)
        if source is None:
            continue
        payload = event_payload_fields(source, consumer.event) or []
        endpoint = svc.endpoints.get(consumer.endpoint or "")
        if endpoint is not None:
            missing = [n for n, f in endpoint.request.items() if f.required and n not in payload]
            if missing:
                rep.add((*loc[:-1], "endpoint"),
                        f"{prefix}endpoint '{consumer.endpoint}' requires"
                        f" {', '.join(repr(n) for n in missing)}, which event {consumer.event}"
                        " does not carry")
        for key in ("match", "map"):
            for fname, pname in getattr(consumer, key).items():
                rep.unknown(("consumes", i, key, fname), consumer.event, pname,
                            payload, prefix, _NO_FIELD)
        if consumer.condition is not None:
            for cond in consumer.condition.conditions:
                rep.unknown(("consumes", i, "if"), consumer.event, cond.field,
                            payload, prefix, _NO_FIELD)
                if isinstance(cond.value, SettingRef):
                    rep.unknown(("consumes", i, "if"), "setting", cond.value.name,
                                svc.settings, prefix)


def _check_call(
    rep: Reporter, loc: Loc, target: str, services: Mapping[str, LoadedService], prefix: str
) -> None:
    service, endpoint = split_call(target)
    if rep.unknown(loc, "service", service, services, prefix):
        return
    rep.unknown(loc, service, endpoint, services[service].service.endpoints, prefix,
                "service {what} has no endpoint '{name}'")


def _check_workflows(
    rep: Reporter, svc: ServiceDefinition, services: Mapping[str, LoadedService],
    publishers: Mapping[str, list[str]],
) -> None:
    for wname, flow in svc.workflows.items():
        base: Loc = ("workflows", wname)
        prefix = f"workflow '{wname}': "
        source = _publisher(rep, (*base, "trigger"), flow.trigger, None, services, publishers,
                            prefix)
        if source is not None:
            payload = event_payload_fields(source, flow.trigger) or []
            rep.unknown((*base, "key"), flow.trigger, flow.key, payload, prefix, _NO_FIELD)
        for i, step in enumerate(flow.steps):
            sloc: Loc = (*base, "steps", i)
            sprefix = f"step '{step.name}': "
            if step.call is not None:
                _check_call(rep, (*sloc, "call"), step.call, services, sprefix)
            if step.compensate is not None:
                _check_call(rep, (*sloc, "compensate"), step.compensate, services, sprefix)
            if step.await_ is not None:
                aloc: Loc = (*sloc, "await", "event")
                src = _publisher(rep, aloc, step.await_.event, None, services, publishers,
                                 sprefix)
                fields = event_payload_fields(src, step.await_.event) if src else None
                if fields is not None:
                    rep.unknown((*sloc, "await", "correlate"), step.await_.event,
                                step.await_.correlate, fields, sprefix, _NO_FIELD)


def _check_routes(rep: Reporter, name: str, services: Mapping[str, LoadedService]) -> None:
    mine = services[name]
    loc: Loc = ("route",) if "route" in (mine.doc.data or {}) else ("name",)
    for other_name, other in services.items():
        if other_name == name:
            continue
        a, b = mine.service.route, other.service.route
        if a == b:
            rep.add(loc, f"route '{a}' is also the route of service '{other_name}'")
        elif under_route(a, b) or under_route(b, a):
            rep.add(loc, f"route '{a}' overlaps route '{b}' of service '{other_name}'")


def _check_secrets(rep: Reporter, svc: ServiceDefinition, workspace: WorkspaceDefinition) -> None:
    uses: list[tuple[Loc, str]] = [
        (("gateway", *loc), name) for loc, name in svc.gateway.policy_secrets()
    ]
    if svc.process is not None:
        for var, value in svc.process.env.items():
            uses += [(("process", "env", var), m) for m in _SECRET_USE.findall(value)]
    for loc, name in uses:
        rep.unknown(loc, "secret", name, workspace.secrets, "",
                    "secret '{name}' is not defined in the secrets of lcdev.yaml")


