"""What changed between two versions of the definitions, in the plain words users read.

Hot reload shows every change it applies (``lcdev up`` output, ``lcdev reloads``) and decides
what a change takes from the same comparison: a low-code swap, a process restart, a gateway
rewrite, or a new ``lcdev up``. Everything here is pure: sections are compared as their
``model_dump(mode="json", by_alias=True)`` form, so a key added to a model later is still seen
(as a generic ``~ key`` line) rather than silently missed. Messages are sorted, so the same
edit always reads the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lcdev.definitions import ServiceDefinition, WorkspaceDefinition

__all__ = [
    "ServiceChanges",
    "WorkspaceChanges",
    "changed_events",
    "diff_service",
    "diff_workspace",
]

Json = dict[str, Any]
_METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
_IMPLICIT = (("id", "uuid"), ("created_at", "datetime"), ("updated_at", "datetime"))
# Top-level keys of a service that a category below speaks for; any other key that differs
# is still reported, as "~ <key>".
_COVERED = {
    "name", "version", "owner", "description", "kind", "route", "process", "settings",
    "entities", "endpoints", "publishes", "consumes", "workflows", "gateway",
}
_PROCESS_PREFIXES = ("~ kind ", "+ process", "- process", "~ process")
_NEEDS_UP = "needs `lcdev up` again"


@dataclass(frozen=True)
class ServiceChanges:
    """The changes of one service between two versions, grouped by what they touch.

    Each entry is a line such as ``+ field Order.note`` (``+`` added, ``-`` removed, ``~``
    changed). Routes are the full gateway paths of the CRUD and custom endpoints.
    """

    name: str
    version_before: str
    version_after: str
    routes: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()
    gateway: tuple[str, ...] = ()
    other: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Anything at all differs (a new or removed service always has)."""
        return bool(self.words)

    @property
    def words(self) -> list[str]:
        """Every change line: routes, fields, tables, events, subscriptions, gateway, other."""
        return [*self.routes, *self.fields, *self.tables, *self.events, *self.subscriptions,
                *self.gateway, *self.other]

    @property
    def summary(self) -> list[str]:
        """``words`` without the version line: reports show both versions beside it."""
        return [word for word in self.words if not word.startswith("~ version ")]

    @property
    def added(self) -> bool:
        """The service is new."""
        return not self.version_before

    @property
    def removed(self) -> bool:
        """The service is gone."""
        return not self.version_after

    @property
    def gateway_affected(self) -> bool:
        """The gateway configuration must be rewritten: the route prefix, the gateway policy or
        the public paths changed, or the service came or went."""
        return self.added or self.removed or bool(self.gateway)

    @property
    def process_affected(self) -> bool:
        """The kind or the ``process`` spec changed between two versions: the process must be
        restarted. (A new or removed service is started or stopped, so this is False.)"""
        return any(line.startswith(_PROCESS_PREFIXES) for line in self.other)


def diff_service(old: ServiceDefinition | None, new: ServiceDefinition | None) -> ServiceChanges:
    """The changes from ``old`` to ``new``; None on one side means added or removed."""
    a, b = _dump(old), _dump(new)
    changes = ServiceChanges(
        name=_some(new if new is not None else old).name,
        version_before=old.version if old is not None else "",
        version_after=new.version if new is not None else "",
        routes=_route_changes(old, new),
        fields=_field_changes(a.get("entities", {}), b.get("entities", {})),
        tables=tuple(_keyed("entity ", a.get("entities", {}), b.get("entities", {}),
                            _table_detail)),
        events=tuple(_keyed("publishes ", _event_contracts(old), _event_contracts(new))),
        subscriptions=tuple(_keyed("consumes ", _subscriptions(a.get("consumes", [])),
                                   _subscriptions(b.get("consumes", [])), _subscription_detail)),
        gateway=_gateway_changes(old, new, a, b),
        other=_other_changes(old, new, a, b),
    )
    if a != b and not changes.changed:  # a difference no line tells: still a change
        return dataclasses.replace(changes, other=("~ definition",))
    return changes


def changed_events(old: ServiceDefinition | None, new: ServiceDefinition | None) -> set[str]:
    """Events of this service added, removed, or whose contract changed: what consumers see
    (topic, payload, key) and how it is emitted. A description alone does not count."""
    before = _event_contracts(old, describe=False)
    after = _event_contracts(new, describe=False)
    return {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}


@dataclass(frozen=True)
class WorkspaceChanges:
    """What changed in ``lcdev.yaml``: what applies live and what needs ``lcdev up`` again."""

    applied: tuple[str, ...] = ()
    needs_up: tuple[str, ...] = ()
    services_changed: bool = False
    secrets_changed: bool = False

    @property
    def changed(self) -> bool:
        """Anything at all differs."""
        return bool(self.applied or self.needs_up)


def diff_workspace(old: WorkspaceDefinition, new: WorkspaceDefinition) -> WorkspaceChanges:
    """The changes from ``old`` to ``new``. ``services`` globs, ``secrets`` and the description
    apply live; the name, stack, gateway listener, ports and telemetry are fixed when the
    supervisor starts, so each of those says it needs ``lcdev up`` again."""
    a = old.model_dump(mode="json", by_alias=True)
    b = new.model_dump(mode="json", by_alias=True)
    applied: list[str] = []
    needs_up: list[str] = []
    if a["services"] != b["services"]:
        applied.append(f"services globs {_show(a['services'])} → {_show(b['services'])}")
    secrets = _named_changes(a["secrets"], b["secrets"])
    if secrets:
        applied.append("secrets: " + ", ".join(secrets))
    if a["description"] != b["description"]:
        applied.append("description")
    for key in sorted(a.keys() | b.keys()):
        if key in ("services", "secrets", "description") or a.get(key) == b.get(key):
            continue
        for setting, before, after in _settings(key, a.get(key), b.get(key)):
            if isinstance(before, dict | list) or isinstance(after, dict | list):
                needs_up.append(f"{setting} changed, {_NEEDS_UP}")
            else:
                needs_up.append(f"{setting} {_show(before)} → {_show(after)} {_NEEDS_UP}")
    return WorkspaceChanges(
        applied=tuple(applied), needs_up=tuple(needs_up),
        services_changed=a["services"] != b["services"], secrets_changed=bool(secrets),
    )


# --- services ----------------------------------------------------------------------------


def _routes(svc: ServiceDefinition | None) -> set[tuple[str, str]]:
    """(method, path below the route) of every CRUD and custom endpoint: relative, so a new
    route prefix is one change rather than every path twice."""
    if svc is None:
        return set()
    found = {route for entity in svc.entities for route in svc.crud_routes(entity)}
    found |= {(e.method, svc.endpoint_path(n)) for n, e in svc.endpoints.items()}
    return {(method, path[len(svc.route):]) for method, path in found}


def _route_changes(old: ServiceDefinition | None, new: ServiceDefinition | None) -> tuple[
        str, ...]:
    before, after = _routes(old), _routes(new)
    lines = [("-", m, p, old.route + p) for m, p in before - after if old is not None]
    lines += [("+", m, p, new.route + p) for m, p in after - before if new is not None]
    lines.sort(key=lambda line: (line[2], _METHOD_ORDER.get(line[1], 9), line[0]))
    return tuple(f"{sign} {method} {full}" for sign, method, _, full in lines)


def _field_changes(before: Json, after: Json) -> tuple[str, ...]:
    """Fields of the entities in both versions (new and removed entities are table lines)."""
    lines: list[str] = []
    for entity in sorted(before.keys() & after.keys()):
        fields_a, fields_b = (dict(before[entity]["fields"]), dict(after[entity]["fields"]))
        if before[entity]["timestamps"] != after[entity]["timestamps"]:
            implicit = {name: {"type": kind} for name, kind in _IMPLICIT[1:]}
            (fields_a if before[entity]["timestamps"] else fields_b).update(implicit)
        lines += _keyed(f"field {entity}.", fields_a, fields_b, _field_detail)
    return tuple(lines)


def _field_detail(a: Json, b: Json) -> str:
    return f"{a['type']} → {b['type']}" if a["type"] != b["type"] else _details(a, b)


def _table_detail(a: Json, b: Json) -> str:
    # Fields, crud and path are reported as field and route lines, timestamps as fields.
    rest = [k for k in _diff_keys(a, b) if k not in ("fields", "crud", "path", "timestamps")]
    if "indexes" in rest:
        moved = [f"+ {_index(i)}" for i in b["indexes"] if i not in a["indexes"]]
        moved += [f"- {_index(i)}" for i in a["indexes"] if i not in b["indexes"]]
        rest[rest.index("indexes")] = "indexes: " + ", ".join(moved or ["order"])
    return "; ".join(rest)


def _index(index: Json) -> str:
    return "(" + ", ".join(index["fields"]) + ")" + (" unique" if index["unique"] else "")


def _event_contracts(svc: ServiceDefinition | None, *, describe: bool = True) -> dict[str, Json]:
    """Each published event as declared, plus what it depends on beyond its own section: the
    topic (which follows the major version) and, when the payload is the whole row, the
    entity's fields (the implicit ones included)."""
    if svc is None:
        return {}
    contracts: dict[str, Json] = {}
    for name, event in svc.publishes.items():
        contract = event.model_dump(mode="json", by_alias=True,
                                    exclude=None if describe else {"description"})
        contract["topic"] = svc.topic(name)
        entity = svc.entities.get(event.entity or "")
        if not event.payload and entity is not None:
            implicit = _IMPLICIT if entity.timestamps else _IMPLICIT[:1]
            row = {field: {"type": kind} for field, kind in implicit}
            contract["payload"] = {**row, **entity.model_dump(mode="json", by_alias=True)["fields"]}
        contracts[name] = contract
    return contracts


def _subscriptions(entries: list[Json]) -> dict[str, list[Json]]:
    """``consumes`` entries by ``Event from service`` (several entries may share one)."""
    groups: dict[str, list[Json]] = {}
    for entry in entries:
        source = f" from {entry['from']}" if entry.get("from") else ""
        groups.setdefault(entry["event"] + source, []).append(entry)
    return groups


def _subscription_detail(a: list[Json], b: list[Json]) -> str:
    if len(a) == len(b) == 1:
        return _details(a[0], b[0])
    return f"{len(a)} → {len(b)} entries" if len(a) != len(b) else "entries"


def _gateway_changes(
    old: ServiceDefinition | None, new: ServiceDefinition | None, a: Json, b: Json
) -> tuple[str, ...]:
    if old is None or new is None:
        return (f"+ route {new.route}",) if new is not None else (f"- route {_some(old).route}",)
    lines = [f"~ route {old.route} → {new.route}"] if old.route != new.route else []
    policy_a, policy_b = a["gateway"], b["gateway"]
    for key in _diff_keys(policy_a, policy_b):
        before, after = policy_a.get(key), policy_b.get(key)
        if key == "auth":
            lines.append(f"~ gateway auth ({_auth(before)} → {_auth(after)})")
        elif key == "rate_limit":
            lines.append(f"~ gateway rate limit ({_rate(before)} → {_rate(after)})")
        elif key == "routes":
            paths = _named_changes({r["path"]: r for r in before}, {r["path"]: r for r in after})
            lines.append(f"~ gateway route policies ({', '.join(paths)})")
        else:
            state = "added" if before is None else "removed" if after is None else "changed"
            lines.append(f"~ gateway {key.replace('_', ' ')} ({state})")
    if old.kind != new.kind:
        lines.append(f"~ gateway public paths ({old.kind} → {new.kind})")
    elif old.kind == "process":  # the gateway lets these two paths through without auth
        process_a, process_b = a["process"], b["process"]
        lines += [f"~ gateway {_detail(key + ' path', process_a[key], process_b[key])}"
                  for key in ("health", "openapi") if process_a[key] != process_b[key]]
    return tuple(lines)


def _auth(auth: Json) -> str:
    return str(auth["type"]) + (f" ({auth['secret']})" if auth.get("secret") else "")


def _rate(rate: Json | None) -> str:
    if rate is None:
        return "none"
    return f"{rate['requests']}/{rate['per']}" + (f" burst {rate['burst']}" if rate["burst"]
                                                   else "")


def _other_changes(
    old: ServiceDefinition | None, new: ServiceDefinition | None, a: Json, b: Json
) -> tuple[str, ...]:
    if old is None or new is None:
        return ()
    lines = [f"~ {_detail(key, a[key], b[key])}" for key in ("version", "kind", "owner")
             if a[key] != b[key]]
    lines += ["~ description"] if a["description"] != b["description"] else []
    pa, pb = a["process"], b["process"]
    if pa is None or pb is None:
        lines += ["+ process"] if pb is not None else ["- process"] if pa is not None else []
    else:
        lines += [f"~ process {_detail(k, pa[k], pb[k])}" for k in _diff_keys(pa, pb)
                  if k != "env"]
        if pa["env"] != pb["env"]:  # names only: values may hold secret references
            lines.append("~ process env: " + ", ".join(_named_changes(pa["env"], pb["env"])))
    lines += _keyed("setting ", a["settings"], b["settings"])
    lines += _endpoint_changes(a["endpoints"], b["endpoints"])
    lines += _keyed("workflow ", a["workflows"], b["workflows"])
    lines += [f"~ {key}" for key in _diff_keys(a, b) if key not in _COVERED]
    return tuple(lines)


def _endpoint_changes(before: Json, after: Json) -> list[str]:
    """Changed endpoints, and renamed ones (same method and path). Other additions and
    removals already show as route lines."""
    kept = before.keys() & after.keys()
    lines = _keyed("endpoint ", {k: before[k] for k in kept}, {k: after[k] for k in kept})
    gone = {(v["method"], v["path"]): k for k, v in before.items() if k not in after}
    for name, value in sorted(after.items()):
        was = gone.get((value["method"], value["path"]))
        if was is not None and name not in before:
            lines.append(f"~ endpoint {was} renamed to {name}")
    return lines


# --- workspace ----------------------------------------------------------------------------


def _settings(key: str, before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """``(dotted name, before, after)`` of each changed setting, one level into sections."""
    if isinstance(before, dict) and isinstance(after, dict):
        default = "default" if key == "ports" else None
        return [(f"{key}.{k}", before.get(k, default), after.get(k, default))
                for k in _diff_keys(before, after)]
    return [(key, before, after)]


# --- helpers ------------------------------------------------------------------------------


def _some(svc: ServiceDefinition | None) -> ServiceDefinition:
    if svc is None:
        raise ValueError("diff_service needs at least one version of the service")
    return svc


def _dump(svc: ServiceDefinition | None) -> Json:
    return {} if svc is None else svc.model_dump(mode="json", by_alias=True)


def _diff_keys(a: Json, b: Json) -> list[str]:
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _keyed(
    label: str, before: Mapping[str, Any], after: Mapping[str, Any],
    detail: Callable[[Any, Any], str] | None = None,
) -> list[str]:
    """``+ <label><name>``, ``- …`` and ``~ … (detail)`` lines for named things, by name. A
    ``detail`` of "" means the change is told by other lines: no ``~`` line then."""
    lines: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        a, b = before.get(name), after.get(name)
        if a is None or b is None:
            lines.append(f"{'+' if a is None else '-'} {label}{name}")
        elif a != b and (shown := (detail or _details)(a, b)):
            lines.append(f"~ {label}{name} ({shown})")
    return lines


def _named_changes(
    before: Json, after: Json, *, added: str = "", removed: str = "", changed: str = ""
) -> list[str]:
    """Names added, removed or changed, in name order; with no marks given, added and removed
    names say so in words (``stripe_key (new)``)."""
    words = not (added or removed or changed)
    lines: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        if name not in before:
            lines.append(f"{name} (new)" if words else f"{added}{name}")
        elif name not in after:
            lines.append(f"{name} (removed)" if words else f"{removed}{name}")
        elif before[name] != after[name]:
            lines.append(f"{changed}{name}")
    return lines


def _detail(key: str, before: Any, after: Any) -> str:
    """One changed key in a few words: ``min 0 → 1``, ``values: + refunded``, ``map: + note``;
    just ``key`` when the values are too long or too nested to be worth printing."""
    if isinstance(before, dict) and isinstance(after, dict):
        names = _named_changes(before, after, added="+ ", removed="- ", changed="~ ")
        return f"{key}: {', '.join(names)}"
    shown = f"{key} {_show(before)} → {_show(after)}"
    if len(shown) <= 60 and not any(isinstance(v, dict) for v in (before, after)):
        return shown
    if isinstance(before, list) and isinstance(after, list) and _scalars(before + after):
        moved = [f"+ {_show(v)}" for v in after if v not in before]
        moved += [f"- {_show(v)}" for v in before if v not in after]
        return f"{key}: {', '.join(moved)}" if moved else f"{key} order"
    return key


def _details(before: Json, after: Json) -> str:
    return "; ".join(_detail(key, before.get(key), after.get(key))
                     for key in _diff_keys(before, after))


def _scalars(values: list[Any]) -> bool:
    return not any(isinstance(v, dict | list) for v in values)


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
