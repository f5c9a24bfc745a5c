"""Checks of a service's HTTP paths: every CRUD route and custom endpoint has its own full path.

Paths in ``service.yaml`` are relative to the service ``route``; the checks compare full paths
(``ServiceDefinition.collection_path`` / ``endpoint_path``), with path parameters compared by
position only (``/orders/{id}`` and ``/orders/{order_id}`` are the same route).
"""

from __future__ import annotations

import re

from lcdev.definitions.issues import Loc
from lcdev.definitions.reporting import Reporter
from lcdev.definitions.service import ServiceDefinition

__all__ = ["RESERVED_PATHS", "check_paths", "route_shape"]

RESERVED_PATHS = ("/_lcdev", "/openapi.json", "/asyncapi.json")
"""Paths below every service route that lcdev itself serves (health, API documents)."""

_PARAM = re.compile(r"\{[^}/]*\}")


def route_shape(path: str) -> str:
    """``/orders/{id}/cancel`` -> ``/orders/{}/cancel``: paths equal for routing compare equal."""
    return _PARAM.sub("{}", path)


def check_paths(rep: Reporter, svc: ServiceDefinition) -> None:
    """Report CRUD routes and endpoints sharing a method and full path, and reserved paths."""
    seen: dict[tuple[str, str], str] = {}
    for name, entity in svc.entities.items():
        loc: Loc = ("entities", name, "path") if entity.path is not None else ("entities", name)
        for method, path in svc.crud_routes(name):
            other = seen.setdefault((method, route_shape(path)), f"the {name} CRUD route")
            if other != f"the {name} CRUD route":
                rep.add(loc, f"entity '{name}': {method} {path} is also {other}",
                        at_key=entity.path is None)
                break
    for name, ep in svc.endpoints.items():
        loc = ("endpoints", name, "path")
        prefix = f"endpoint '{name}': "
        full = svc.endpoint_path(name)
        below = full.removeprefix(svc.route)
        reserved = next((r for r in RESERVED_PATHS if below == r or below.startswith(r + "/")),
                        None)
        if reserved is not None:
            rep.add(loc, f"{prefix}path {full} is reserved by lcdev")
            continue
        other = seen.setdefault((ep.method, route_shape(full)), f"endpoint '{name}'")
        if other != f"endpoint '{name}'":
            rep.add(loc, f"{prefix}{ep.method} {full} is also {other}")
