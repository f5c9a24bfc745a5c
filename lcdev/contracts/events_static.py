"""Static event contracts: does every consumer read only what its producer really sends?

The loader (definitions/crossrefs.py) already rejects names that do not resolve: an unknown
event, a ``match``/``map``/``if`` field the payload lacks, an endpoint request field the event
does not carry. What it accepts and the runtime would still dead-letter (or apply wrongly) is
checked here, per ``consumes`` entry against the producer's payload fields:

- types: a mapped or matched payload field must be storable in the consumer's field (text into
  a decimal, a decimal into an integer, free text into an enum, a longer text into a shorter
  one, more whole digits than the column holds);
- required-ness: an optional payload field must not be relied on as required (``match``, path
  parameters, a required entity field or endpoint request field), and an ``insert`` must give
  every required field of its row;
- conditions: an ordering comparison needs a number or a date on both sides, and an enum
  compared with a constant the producer never sends is never true.

One finding per subscription (all entries of one producer's event in one consumer), at the
consumer's ``consumes`` entry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lcdev.contracts.findings import Finding
from lcdev.definitions import ConsumedEvent, FieldDefinition, ServiceDefinition
from lcdev.definitions.guards import Condition, SettingRef
from lcdev.definitions.issues import Loc
from lcdev.definitions.loader import SERVICE_FILE, LoadedWorkspace
from lcdev.definitions.yamlload import YamlDocument, load_document
from lcdev.runtime.events.schema import payload_fields
from lcdev.runtime.events.subscriptions import path_params

__all__ = ["Issue", "check_event_compatibility", "entry_issues", "producer_of"]

_TEXTUAL = {"string", "text"}
_JSON_STRINGS = {"string", "text", "enum", "uuid", "ref", "date", "datetime", "decimal"}
_NUMBERS = {"integer", "decimal"}
_ORDERED = _NUMBERS | {"date", "datetime"}
_IMPLICIT = {"id": FieldDefinition(type="uuid", required=True),
             "created_at": FieldDefinition(type="datetime", required=True),
             "updated_at": FieldDefinition(type="datetime", required=True)}


@dataclass(frozen=True)
class Issue:
    """One incompatibility of a ``consumes`` entry: where (a YAML path), what, and the fix."""

    loc: Loc
    message: str
    hint: str


def producer_of(entry: ConsumedEvent,
                services: Mapping[str, ServiceDefinition]) -> ServiceDefinition | None:
    """The one service publishing ``entry``'s event (as the runtime resolves it), else None."""
    found = [s for s in services.values() if entry.event in s.publishes
             and entry.from_service in (None, s.name)]
    return found[0] if len(found) == 1 else None


def _type_problem(payload: FieldDefinition, target: FieldDefinition) -> str | None:
    """Why a payload value of ``payload``'s type may not be storable as ``target``."""
    src, dst = payload.type, target.type
    if dst in ("uuid", "ref"):
        return None if src in ("uuid", "ref") else f"a {src} is not a uuid"
    if dst == "enum":
        if src != "enum":
            return f"a {src} may be any text, {dst} allows only {', '.join(target.values or [])}"
        extra = sorted(set(payload.values or []) - set(target.values or []))
        return f"the producer may send {', '.join(extra)}, which the enum lacks" if extra else None
    if dst in _TEXTUAL:
        if src not in _JSON_STRINGS:
            return f"a {src} is not text"
        if target.max_length is not None and (
                payload.max_length is None or payload.max_length > target.max_length):
            longest = "unbounded" if payload.max_length is None else payload.max_length
            return f"text up to {longest} characters does not fit max_length {target.max_length}"
        return None
    if dst == "integer":
        return None if src == "integer" else f"a {src} is not an integer"
    if dst == "decimal":
        if src not in _NUMBERS:
            return f"a {src} is not a number"
        return _digits_problem(payload, target)
    if dst in ("date", "datetime", "boolean"):
        return None if src == dst else f"a {src} is not a {dst}"
    return None  # json, list: any JSON value


def _digits_problem(payload: FieldDefinition, target: FieldDefinition) -> str | None:
    if target.precision is None:
        return None
    whole = target.precision - (target.scale or 0)
    if payload.type == "decimal" and payload.precision is not None:
        sent = payload.precision - (payload.scale or 0)
        if sent <= whole:
            return None
        return f"decimal({payload.precision}, {payload.scale or 0}) may have {sent} whole" \
               f" digits, decimal({target.precision}, {target.scale or 0}) holds {whole}"
    if payload.max is not None and abs(Decimal(str(payload.max))) < Decimal(10) ** whole and (
            payload.min is not None and abs(Decimal(str(payload.min))) < Decimal(10) ** whole):
        return None
    return f"an unbounded {payload.type} may not fit decimal({target.precision}," \
           f" {target.scale or 0})"


def _target_fields(service: ServiceDefinition, entry: ConsumedEvent) -> dict[str, FieldDefinition]:
    entity = service.entities.get(entry.entity or "")
    if entity is None:
        return {}
    implicit = _IMPLICIT if entity.timestamps else {"id": _IMPLICIT["id"]}
    return {**implicit, **entity.fields}


def _value_issues(entry: ConsumedEvent, service: ServiceDefinition,
                  payload: Mapping[str, FieldDefinition], event: str) -> list[Issue]:
    issues: list[Issue] = []
    targets = _target_fields(service, entry)
    for key in ("match", "map"):
        pairs: dict[str, str] = getattr(entry, key)
        for fname, pname in pairs.items():
            source, target = payload.get(pname), targets.get(fname)
            if source is None or target is None:
                continue  # unknown names: reported by the loader
            loc: Loc = ("consumes", -1, key, fname)
            problem = _type_problem(source, target)
            if problem is not None:
                issues.append(Issue(loc, f"{key} {fname} <- {event}.{pname}: {problem}",
                                    f"map a payload field of a compatible type into"
                                    f" '{fname}' ({target.type}), or change the field's type"))
            elif not source.required and (key == "match" or (
                    target.required and target.default is None)):
                why = "finds no row" if key == "match" else f"cannot be stored in required {fname}"
                issues.append(Issue(loc, f"{key} {fname} <- {event}.{pname}: {pname} is optional"
                                    f" in {event}, and a null {why}",
                                    f"make '{pname}' required in the producer's payload, or"
                                    f" '{fname}' optional"))
    if entry.action == "insert" and targets:
        given = set(entry.map) | set(entry.set_values) | set(_IMPLICIT)
        for fname, f in targets.items():
            if f.required and f.default is None and f.is_column and fname not in given:
                issues.append(Issue(("consumes", -1, "action"),
                                    f"insert {entry.entity}: required field '{fname}' is"
                                    " neither mapped nor set",
                                    f"map '{fname}' from a required payload field or 'set' it"))
    return issues


def _call_issues(entry: ConsumedEvent, service: ServiceDefinition,
                 payload: Mapping[str, FieldDefinition], event: str) -> list[Issue]:
    endpoint = service.endpoints.get(entry.endpoint or "")
    if entry.action != "call" or endpoint is None:
        return []
    issues: list[Issue] = []
    params = set(path_params(endpoint.path))
    for name in sorted(params | set(endpoint.request)):
        source = payload.get(name)
        if source is None:
            continue
        wanted = endpoint.request.get(name)
        needed = name in params or (wanted is not None and wanted.required)
        if needed and not source.required:
            issues.append(Issue(("consumes", -1, "endpoint"),
                                f"endpoint {entry.endpoint} needs '{name}', which is optional"
                                f" in {event}", f"make '{name}' required in the producer's"
                                " payload, or optional in the endpoint"))
        problem = _type_problem(source, wanted) if wanted is not None else None
        if problem is not None:
            issues.append(Issue(("consumes", -1, "endpoint"),
                                f"endpoint {entry.endpoint} request '{name}': {problem}",
                                "give the endpoint's request field the payload's type"))
    return issues


def _constant_kind(value: Any, service: ServiceDefinition) -> str:
    if isinstance(value, SettingRef):
        setting = service.settings.get(value.name)
        kind = setting.type if setting is not None else "unknown"
        return "number" if kind in _NUMBERS else kind
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    return "null" if value is None else "text"


def _condition_issue(cond: Condition, field: FieldDefinition, service: ServiceDefinition,
                     event: str, text: str) -> str | None:
    values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
    if cond.op in ("<", "<=", ">", ">="):
        kind = _constant_kind(cond.value, service)
        if field.type not in _ORDERED:
            return f"'{text}' orders {event}.{cond.field}, a {field.type}"
        if field.type in _NUMBERS and kind not in ("number", "unknown"):
            return f"'{text}' compares {event}.{cond.field} (a number) with a {kind}"
        return None
    if field.type == "enum":
        never = [str(v) for v in values if not isinstance(v, SettingRef) and v is not None
                 and str(v) not in (field.values or [])]
        if never:
            return f"'{text}': {event}.{cond.field} is never {', '.join(never)} (it is one of" \
                   f" {', '.join(field.values or [])})"
    return None


def _condition_issues(entry: ConsumedEvent, service: ServiceDefinition,
                      payload: Mapping[str, FieldDefinition], event: str) -> list[Issue]:
    if entry.condition is None:
        return []
    issues: list[Issue] = []
    for cond in entry.condition.conditions:
        field = payload.get(cond.field)
        problem = None if field is None else _condition_issue(
            cond, field, service, event, entry.condition.text)
        if problem is not None:
            issues.append(Issue(("consumes", -1, "if"), problem,
                                "compare the field with a value of its own type"))
    return issues


def entry_issues(service: ServiceDefinition, entry: ConsumedEvent,
                 payload: Mapping[str, FieldDefinition]) -> list[Issue]:
    """Incompatibilities of one ``consumes`` entry with its producer's payload fields (locs
    use index -1 for the entry; the caller puts its index in)."""
    event = entry.event
    return [*_value_issues(entry, service, payload, event),
            *_call_issues(entry, service, payload, event),
            *_condition_issues(entry, service, payload, event)]


def _where(doc: YamlDocument | None, loc: Loc) -> str:
    if doc is None:
        return ""
    line, column = doc.position(loc)
    return f"{doc.shown_path}:{line}:{column}"


def _document(loaded: LoadedWorkspace, name: str) -> YamlDocument | None:
    folder = loaded.service_dirs.get(name)
    if folder is None:
        return None
    doc, _problems = load_document(folder / SERVICE_FILE, root=loaded.root)
    return doc


def _finding(loaded: LoadedWorkspace, consumer: ServiceDefinition, producer_name: str,
             event: str, indexed: list[tuple[int, ConsumedEvent]], started: float) -> Finding:
    doc = _document(loaded, consumer.name)
    name = f"{producer_name}.{event} -> {consumer.name}"
    first = indexed[0][0]
    producer = loaded.services.get(producer_name)
    if producer is None:
        broken = producer_name in loaded.service_dirs
        return Finding("events", name, "error" if broken else "skipped", consumer.name,
                       f"{producer_name} did not load; fix its definitions first" if broken
                       else f"{producer_name} is not in this workspace; the contract is not"
                       " checked", _where(doc, ("consumes", first)))
    payload = payload_fields(producer, event)
    issues: list[Issue] = []
    for index, entry in indexed:
        issues += [Issue((*i.loc[:1], index, *i.loc[2:]), i.message, i.hint)
                   for i in entry_issues(consumer, entry, payload)]
    seconds = time.perf_counter() - started
    if not issues:
        return Finding("events", name, "passed", consumer.name,
                       f"{consumer.name} reads only what {producer_name} publishes in {event}",
                       _where(doc, ("consumes", first)), seconds=seconds,
                       details={"entries": [i for i, _ in indexed]})
    listed = [{"where": _where(doc, i.loc), "message": i.message, "hint": i.hint}
              for i in issues]
    message = "; ".join(i.message for i in issues)
    return Finding("events", name, "failed", consumer.name, message, listed[0]["where"],
                   hint=issues[0].hint, seconds=seconds, details={"issues": listed})


def check_event_compatibility(loaded: LoadedWorkspace) -> list[Finding]:
    """One finding per subscription of every consumer of the workspace (see module doc).
    Pure: reads the definitions only (and the YAML text for positions)."""
    findings: list[Finding] = []
    for consumer in loaded.services.values():
        started = time.perf_counter()
        groups: dict[tuple[str, str], list[tuple[int, ConsumedEvent]]] = {}
        for index, entry in enumerate(consumer.consumes):
            producer = producer_of(entry, loaded.services)
            producer_name = producer.name if producer is not None else (entry.from_service or "?")
            groups.setdefault((producer_name, entry.event), []).append((index, entry))
        for (producer_name, event), indexed in groups.items():
            findings.append(_finding(loaded, consumer, producer_name, event, indexed, started))
            started = time.perf_counter()
    return findings
