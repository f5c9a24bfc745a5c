"""Breaking changes of a service's API and stored data: routes, endpoints, entities, fields,
gateway auth.

Routes are compared below the service's route, so a new route prefix is one change rather
than every path twice. A field is one finding however many of its aspects broke, so its name
(``~ field Order.sku``) stays the same across runs while the message lists the aspects.
"""

from __future__ import annotations

from lcdev.contracts.breaking_fields import field_breaks, needs_value, signature
from lcdev.contracts.breaking_model import Break, Dependents, Loc
from lcdev.definitions import EntityDefinition, FieldDefinition, ServiceDefinition

__all__ = ["api_breaks", "service_removed"]

_API = "API clients"
_STORED = "stored data"
_KEEP_FIELD = ("keep the field (say 'deprecated' in its description) and stop using it; remove it"
               " in a new major version")


def service_removed(old: ServiceDefinition, deps: Dependents) -> Break:
    """The whole service is gone."""
    whom = [f"{_API} of {old.route}"]
    whom += [deps.of_event(old.name, event) for event in old.publishes]
    whom += [f"{_STORED} (tables of {', '.join(old.entities)} dropped)"] if old.entities else []
    return Break(f"- service {old.name}", f"service {old.name} removed; breaks "
                 + "; ".join(whom),
                 "keep the service running (deprecated) until its clients and consumers moved",
                 ("name",), at_ref=True)


def api_breaks(old: ServiceDefinition, new: ServiceDefinition, deps: Dependents) -> list[Break]:
    """Everything in ``old`` that clients, callers or stored rows rely on and ``new`` breaks."""
    found = _route_breaks(old, new, deps)
    for name, entity in old.entities.items():
        if name in new.entities:
            found += _entity_breaks(old, name, entity, new.entities[name], deps)
        else:
            found.append(Break(
                f"- entity {name}",
                f"entity {name} removed: its table is dropped with its rows ({_STORED}) and its"
                f" routes are gone ({_API})" + _row_events(old, name, deps),
                "keep the entity (read-only, deprecated) and remove it in a new major version,"
                " after migrating its data", ("entities", name), at_ref=True))
    auth_old, auth_new = old.gateway.auth, new.gateway.auth
    if auth_new.type != "none" and auth_old != auth_new:
        was = auth_old.type + (f" ({auth_old.secret})" if auth_old.secret else "")
        now = auth_new.type + (f" ({auth_new.secret})" if auth_new.secret else "")
        found.append(Break("~ gateway auth", f"gateway auth {was} → {now}: {_API} without the"
                           " new credentials are refused (401)",
                           "keep the old auth until clients have the new credentials",
                           ("gateway", "auth")))
    return found


def _routes(svc: ServiceDefinition) -> dict[tuple[str, str], Loc]:
    """(method, path below the route) -> the key that declares it."""
    found: dict[tuple[str, str], Loc] = {}
    for entity in svc.entities:
        for method, path in svc.crud_routes(entity):
            found[(method, path[len(svc.route):])] = ("entities", entity, "crud")
    for name, endpoint in svc.endpoints.items():
        found[(endpoint.method, svc.endpoint_path(name)[len(svc.route):])] = ("endpoints", name)
    return found


def _route_breaks(old: ServiceDefinition, new: ServiceDefinition, deps: Dependents) -> list[Break]:
    if old.route != new.route:
        return [Break(f"~ route {old.route}",
                      f"route {old.route} → {new.route}: every endpoint moved; {_API} calling"
                      f" {old.route}/… get 404",
                      "keep the old route (a new route is a new major version)", ("route",))]
    before, after = _routes(old), _routes(new)
    found: list[Break] = []
    for (method, path), loc in before.items():
        if (method, path) in after or (loc[0] == "entities" and loc[1] not in new.entities):
            continue  # still served, or told by "- entity"
        where, at_ref = _moved(loc, new)
        callers = deps.of_endpoint(old.name, str(loc[1])) if loc[0] == "endpoints" else ""
        found.append(Break(
            f"- endpoint {method} {old.route}{path}",
            f"{method} {old.route}{path} is no longer served: {_API} calling it get 404/405"
            + (f"; so does {callers}" if callers else ""),
            "keep serving it (mark it deprecated) beside the new one; remove it in a new major"
            " version", where, at_ref))
    for name, endpoint in old.endpoints.items():
        route = (endpoint.method, old.endpoint_path(name)[len(old.route):])
        callers = deps.of_endpoint(old.name, name)
        if name not in new.endpoints and route in after and callers:
            found.append(Break(f"- endpoint {name}",
                               f"endpoint {name} renamed (its route stays): {callers} calls"
                               f" {old.name}.{name}", "keep the endpoint's name",
                               ("endpoints", name), at_ref=True))
        now = after.get(route)  # the endpoint serving the same route now, maybe renamed
        if now is not None and now[0] == "endpoints":
            target = str(now[1])
            found += _request_breaks(name, endpoint.request, target,
                                     new.endpoints[target].request)
    return found


def _moved(loc: Loc, new: ServiceDefinition) -> tuple[Loc, bool]:
    """Where a route's removal shows: the key that changed in the working tree, else the
    declaration in the ref's file."""
    kind, name = loc[0], str(loc[1])
    if kind == "entities":
        entity = new.entities[name]
        return ("entities", name, "path" if "path" in entity.model_fields_set else "crud"), False
    if name in new.endpoints:
        return ("endpoints", name, "path"), False
    return ("endpoints", name), True


def _request_breaks(
    old_name: str, old: dict[str, FieldDefinition], name: str, new: dict[str, FieldDefinition]
) -> list[Break]:
    found: list[Break] = []
    hint = "accept the old request too: keep the field optional, or give it a default"
    for fname, field in old.items():
        if fname not in new:
            found.append(Break(f"- request field {old_name}.{fname}",
                               f"request field {fname} of endpoint {old_name} removed: {_API}"
                               " sending it may be refused", hint,
                               ("endpoints", old_name, "request", fname), at_ref=True))
        elif aspects := field_breaks(field, new[fname], "request"):
            found.append(Break(f"~ request field {name}.{fname}",
                               f"request field {fname} of endpoint {name}: "
                               + "; ".join(a.detail for a in aspects)
                               + f": {_API} sending valid requests before may be refused", hint,
                               ("endpoints", name, "request", fname, aspects[0].key)))
    for fname, field in new.items():
        if fname not in old and needs_value(field):
            found.append(Break(f"+ request field {name}.{fname}",
                               f"new required request field {fname} of endpoint {name}: {_API}"
                               " not sending it are refused", hint,
                               ("endpoints", name, "request", fname)))
    return found


def _row_events(svc: ServiceDefinition, entity: str, deps: Dependents) -> str:
    """``; consumers of OrderPlaced (…)`` for events whose payload is the entity's whole row."""
    events = [name for name, event in svc.publishes.items()
              if event.entity == entity and not event.payload]
    return "".join(f"; {deps.of_event(svc.name, event)}" for event in events)


def _entity_breaks(
    old_svc: ServiceDefinition, name: str, old: EntityDefinition, new: EntityDefinition,
    deps: Dependents,
) -> list[Break]:
    found: list[Break] = []
    row_events = _row_events(old_svc, name, deps)
    added = {f: d for f, d in new.fields.items() if f not in old.fields}
    for fname, field in old.fields.items():
        base = ("entities", name, "fields", fname)
        if fname not in new.fields:
            twin = [f for f, d in added.items() if signature(d) == signature(field)]
            renamed = f" (renamed to {twin[0]}?)" if len(twin) == 1 else ""
            stored = f"; its column is dropped with its data ({_STORED})" if field.is_column \
                else ""
            found.append(Break(f"- field {name}.{fname}",
                               f"field {name}.{fname} removed{renamed}: {_API} reading or writing"
                               f" it break{stored}{row_events}", _KEEP_FIELD, base, at_ref=True))
        elif aspects := field_breaks(field, new.fields[fname], "entity"):
            found.append(Break(f"~ field {name}.{fname}",
                               f"field {name}.{fname}: " + "; ".join(a.detail for a in aspects)
                               + f": breaks {_API} (requests valid before are refused, or"
                               f" responses change) and {_STORED} (existing rows may not"
                               f" fit){row_events}",
                               "add a new field instead and keep this one as it was, or give it"
                               " a default; incompatible types need a new major version",
                               (*base, aspects[0].key)))
    for fname, field in added.items():
        if needs_value(field) and field.is_column:
            found.append(Break(f"+ field {name}.{fname}",
                               f"new field {name}.{fname} is required without a default: create"
                               f" requests without it are refused ({_API}) and existing rows"
                               f" have no value ({_STORED})",
                               "give it a default, or make it optional",
                               ("entities", name, "fields", fname)))
    if old.timestamps and not new.timestamps:
        found += [Break(f"- field {name}.{implicit}",
                        f"field {name}.{implicit} removed (timestamps: false): {_API} reading it"
                        f" break; its column is dropped ({_STORED}){row_events}",
                        "keep timestamps on", ("entities", name, "timestamps"))
                  for implicit in ("created_at", "updated_at")]
    unique_before = {tuple(i.fields) for i in old.indexes if i.unique}
    for i, index in enumerate(new.indexes):
        if index.unique and tuple(index.fields) not in unique_before:
            shown = ", ".join(index.fields)
            found.append(Break(f"~ entity {name} unique ({shown})",
                               f"unique index ({shown}) added to {name}: existing duplicate rows"
                               f" fail the migration ({_STORED}); creates that were accepted are"
                               f" refused ({_API})", "use a plain index, or dedupe first and"
                               " ship it in a new major version", ("entities", name, "indexes", i)))
    return found
