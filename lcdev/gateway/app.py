"""The gateway: the workspace's single HTTP entry point.

Requests under a service's prefix are proxied to that service; a service that is not running
answers 503 and an unknown path 404, both as ``application/problem+json``. Every response
carries an ``X-Request-Id`` (the caller's, or a new one). ``/_lcdev/health`` and
``/_lcdev/routes`` describe the gateway itself.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as HttpRoute

from lcdev.gateway.routes import RouteTable

__all__ = ["build_gateway_app", "problem"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host",
               "proxy-connection", "te", "trailer", "content-length"}


def problem(status: int, title: str, detail: str, request_id: str, **extra: Any) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers={"X-Request-Id": request_id})


def build_gateway_app(config: Path) -> Starlette:
    table = RouteTable.from_file(config)
    clients: list[Any] = []  # one httpx client, made on the first proxied request

    def client() -> Any:
        if not clients:
            import httpx  # deferred: the gateway is ready sooner, and most checks never proxy

            clients.append(httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0)))
        return clients[0]

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok", "routes": len(table.routes)})

    async def routes(_: Request) -> Response:
        return JSONResponse([r.__dict__ for r in table.routes])

    async def proxy(request: Request) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        route = table.match(request.url.path)
        if route is None:
            return problem(404, "Not Found", f"no service is routed at {request.url.path}",
                           request_id, routes=[r.prefix for r in table.routes])
        if route.upstream is None:
            return problem(503, "Service Unavailable",
                           f"service '{route.service}' is not running", request_id,
                           service=route.service)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers["x-request-id"] = request_id
        url = route.upstream.rstrip("/") + request.url.path
        import httpx

        try:
            upstream = await client().request(request.method, url, headers=headers,
                                            params=request.query_params,
                                            content=await request.body())
        except httpx.TimeoutException:
            return problem(504, "Gateway Timeout", f"service '{route.service}' did not answer "
                           "in time", request_id, service=route.service)
        except httpx.TransportError as exc:
            return problem(502, "Bad Gateway", f"service '{route.service}' is unreachable: "
                           f"{exc}", request_id, service=route.service)
        out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        out_headers["x-request-id"] = request_id
        return Response(upstream.content, status_code=upstream.status_code, headers=out_headers)

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    return Starlette(routes=[
        HttpRoute("/_lcdev/health", health),
        HttpRoute("/_lcdev/routes", routes),
        HttpRoute("/{path:path}", proxy, methods=methods),
    ])
