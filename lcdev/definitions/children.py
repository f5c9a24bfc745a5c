"""Checks of child collections (``list`` fields) and of names that must be real columns.

A ``list`` field ``lines: list(OrderLine)`` of ``Order`` needs ``OrderLine`` in the same service
with exactly one ``ref`` field to ``Order`` (the back-ref the runtime fills in). Children are one
level deep: a child entity has no child collections of its own. A ``list`` field is not a column,
so guards, ``set``, ``match`` and consumer ``map`` cannot name it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lcdev.definitions.entities import EntityDefinition, back_refs
from lcdev.definitions.issues import Loc
from lcdev.definitions.reporting import Reporter
from lcdev.definitions.service import ServiceDefinition

__all__ = ["check_children", "check_column", "entity_fields"]


def entity_fields(entity: EntityDefinition) -> dict[str, Any]:
    """Field name -> definition (``None`` for the implicit id and timestamps)."""
    fields: dict[str, Any] = dict.fromkeys(entity.all_field_names())
    fields.update(entity.fields)
    return fields


def check_column(
    rep: Reporter, loc: Loc, name: str, fields: Mapping[str, Any], prefix: str,
    *, at_key: bool = False,
) -> bool:
    """Report ``name`` unless it is a column among ``fields``; True when it is not."""
    if rep.unknown(loc, "field", name, fields, prefix, at_key=at_key):
        return True
    field = fields[name]
    if field is not None and not field.is_column:
        rep.add(loc, f"{prefix}field '{name}' is a child collection, not a column",
                at_key=at_key)
        return True
    return False


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def check_children(rep: Reporter, svc: ServiceDefinition) -> None:
    """Every ``list`` field names an entity with exactly one ref back, one level deep."""
    for ename, entity in svc.entities.items():
        holders: dict[str, str] = {}
        for fname, field in entity.fields.items():
            if field.type != "list" or field.entity is None:
                continue
            loc: Loc = ("entities", ename, "fields", fname, "entity")
            prefix = f"field '{fname}': "
            child_name = field.entity
            if rep.unknown(loc, "entity", child_name, svc.entities, prefix):
                continue
            child = svc.entities[child_name]
            refs = back_refs(child, ename)
            dangling = any(f.type == "ref" and f.entity not in svc.entities
                           for f in child.fields.values())
            if not refs and not dangling:  # a misspelt ref is reported on its own
                rep.add(loc, f"{prefix}{child_name} has no ref field to {ename}; add one, e.g."
                        f" '{_snake(ename)}: ref({ename})!'")
            elif len(refs) > 1:
                rep.add(loc, f"{prefix}{child_name} has several ref fields to {ename}"
                        f" ({', '.join(refs)}); a child collection needs exactly one")
            nested = [n for n, f in child.fields.items() if not f.is_column]
            if nested:
                rep.add(loc, f"{prefix}{child_name} has child collections itself"
                        f" ({', '.join(nested)}); children are one level deep")
            first = holders.setdefault(child_name, fname)
            if first != fname:
                rep.add(loc, f"{prefix}{child_name} is already the child collection '{first}'"
                        f" of {ename}")
