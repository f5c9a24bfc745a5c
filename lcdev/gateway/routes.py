"""The gateway's route table: service prefixes to upstream URLs, given as data (JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Route", "RouteTable"]


@dataclass(frozen=True)
class Route:
    """``prefix`` (``/orders``) is served by ``service`` at ``upstream`` (None: not running)."""

    service: str
    prefix: str
    upstream: str | None


class RouteTable:
    """Longest-prefix matching over the workspace's routes."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    @classmethod
    def from_file(cls, path: Path) -> RouteTable:
        data = json.loads(path.read_text())
        return cls([Route(r["service"], r["prefix"].rstrip("/") or "/", r.get("upstream"))
                    for r in data.get("routes", [])])

    def match(self, path: str) -> Route | None:
        for route in self.routes:
            if route.prefix == "/" or path == route.prefix or path.startswith(route.prefix + "/"):
                return route
        return None
