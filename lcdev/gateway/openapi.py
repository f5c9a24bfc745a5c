"""The workspace's merged OpenAPI document (``GET /_lcdev/openapi.json``).

Each running service's document is fetched from its upstream. Its paths are already gateway
paths (no rewriting), so they are merged as they are. Components with the same name and the
same definition are shared; on a clash the later service's is renamed ``<service>.<Name>`` and
its ``$ref``s follow. Operations get the gateway's security requirement where its policy
asks for a credential. ``x-lcdev-services`` tells which services are in it and why not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from lcdev.gateway.http1 import encode_head
from lcdev.gateway.response_reader import ResponseReader
from lcdev.gateway.routes import Route, RouteTable
from lcdev.gateway.upstream import UpstreamFailure, UpstreamPool

__all__ = ["merge_documents", "merged_openapi"]

_FETCH_TIMEOUT_S = 5.0
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_SCHEMES = {
    "jwt": ("lcdev_jwt", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}),
}


async def _fetch(pool: UpstreamPool, route: Route) -> dict[str, Any]:
    assert route.address is not None
    assert route.openapi is not None
    host, port = route.address
    conn = await pool.acquire(route.address, fresh=True)
    try:
        async with asyncio.timeout(_FETCH_TIMEOUT_S):
            conn.writer.write(encode_head(f"GET {route.openapi} HTTP/1.1", [
                ("host", f"{host}:{port}"), ("accept", "application/json"),
                ("connection", "close")]))
            await conn.writer.drain()
            response = ResponseReader(conn.reader)
            head = await response.read_head()
            body = await response.read_all()
    finally:
        conn.close()
    if head.status != 200:
        raise ValueError(f"GET {route.openapi} answered {head.status}")
    document = orjson.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        raise ValueError(f"GET {route.openapi} is not an OpenAPI document")
    return document


async def merged_openapi(table: RouteTable, pool: UpstreamPool, server: str) -> dict[str, Any]:
    """Fetch every running service's document and merge them."""
    status: dict[str, dict[str, Any]] = {}
    wanted = [r for r in table.routes if r.address is not None and r.openapi is not None]
    for route in table.routes:
        if route.address is None:
            status[route.service] = {"status": "not running"}
        elif route.openapi is None:
            status[route.service] = {"status": "no OpenAPI document"}
    results = await asyncio.gather(*(_fetch(pool, r) for r in wanted), return_exceptions=True)
    documents: list[tuple[Route, dict[str, Any]]] = []
    for route, result in zip(wanted, results, strict=True):
        if isinstance(result, dict):
            documents.append((route, result))
            status[route.service] = {"status": "ok"}
        else:
            reason = result.detail if isinstance(result, UpstreamFailure) else str(result)
            status[route.service] = {"status": "unavailable", "detail": reason}
    documents.sort(key=lambda item: item[0].service)
    merged = merge_documents(table.config.workspace, documents, server)
    merged["x-lcdev-services"] = dict(sorted(status.items()))
    return merged


def _rewrite(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (renames.get(v, v) if k == "$ref" and isinstance(v, str)
                    else _rewrite(v, renames)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, renames) for v in node]
    return node


def merge_documents(workspace: str, documents: list[tuple[Route, dict[str, Any]]],
                    server: str) -> dict[str, Any]:
    """One OpenAPI 3.1 document of the given services' documents."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, Any] = {}
    operation_ids: set[str] = set()
    for route, document in documents:
        service = route.service
        renames = {}
        for section, items in (document.get("components") or {}).items():
            for name, value in (items if isinstance(items, dict) else {}).items():
                known = components.get(section, {}).get(name)
                if known is not None and known != value:
                    renames[f"#/components/{section}/{name}"] = (
                        f"#/components/{section}/{service}.{name}")
        document = _rewrite(document, renames) if renames else document
        for section, items in (document.get("components") or {}).items():
            target = components.setdefault(section, {})
            for name, value in (items if isinstance(items, dict) else {}).items():
                renamed = f"#/components/{section}/{name}" in renames
                target.setdefault(f"{service}.{name}" if renamed else name, value)
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and "name" in tag:
                tags.setdefault(tag["name"], tag)
        for path, item in document["paths"].items():
            if path in paths or not isinstance(item, dict):
                continue
            paths[path] = item
            for method in _METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    _adapt(operation, route, method, path, operation_ids, components)
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"{workspace or 'lcdev'} workspace API", "version": "workspace",
                 "description": "All services of the workspace, through the lcdev gateway."},
        "servers": [{"url": server}],
        "paths": paths,
    }
    if components:
        merged["components"] = components
    if tags:
        merged["tags"] = list(tags.values())
    return merged


def _adapt(operation: dict[str, Any], route: Route, method: str, path: str,
           operation_ids: set[str], components: dict[str, dict[str, Any]]) -> None:
    """Unique operationId; the gateway's security requirement."""
    operation_id = operation.get("operationId")
    if isinstance(operation_id, str):
        if operation_id in operation_ids:
            operation_id = operation["operationId"] = f"{route.service}.{operation_id}"
        operation_ids.add(operation_id)
    auth = route.policy_for(method.upper(), path).auth
    if auth.type == "none" or "security" in operation:
        return
    if auth.type == "jwt":
        name, scheme = _SCHEMES["jwt"]
    else:
        header = getattr(auth, "name", "X-API-Key")
        name, scheme = f"lcdev_api_key_{header}", {"type": "apiKey", "in": "header",
                                                   "name": header}
    components.setdefault("securitySchemes", {}).setdefault(name, scheme)
    operation["security"] = [{name: []}]
