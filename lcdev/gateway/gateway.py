"""The request pipeline: ids and trace context, routing, CORS, auth, rate limit, forwarding.

``Gateway.handle`` takes one parsed request on a client connection and answers it, either
itself (``/_lcdev/*``, preflights, refusals, problems) or by forwarding it to its service. The
route table is swapped whole on reload; a request keeps the table it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import traceback
from typing import TYPE_CHECKING

from lcdev.gateway.accesslog import GatewayLog
from lcdev.gateway.auth import Authenticator, AuthFailed, JwksKeys
from lcdev.gateway.cors import CorsRefused
from lcdev.gateway.exchange import Exchange, send_json, send_problem, send_response
from lcdev.gateway.forward import ClientGone, forward
from lcdev.gateway.http1 import HttpError, RequestHead
from lcdev.gateway.openapi import merged_openapi
from lcdev.gateway.ratelimit import TokenBuckets
from lcdev.gateway.request_reader import RequestReader
from lcdev.gateway.routes import Route, RouteTable
from lcdev.gateway.schema import GatewayConfig
from lcdev.gateway.tracing import request_id_from, trace_context
from lcdev.gateway.upstream import UpstreamFailure, UpstreamPool

if TYPE_CHECKING:
    from lcdev.gateway.spans import RequestSpans

__all__ = ["Gateway"]

_FAILURES = {
    "refused": (503, "service '{}' is not running"),
    "timeout": (504, "service '{}' did not answer in time: {}"),
    "unreachable": (502, "service '{}' is unreachable: {}"),
    "invalid": (502, "service '{}' answered badly: {}"),
}


def _name_the_exchange(ex: Exchange) -> None:
    """Every answer, forwarded or the gateway's own, names its request and its trace: a
    caller (``lcdev test`` reporting a 401 or a 502) knows the trace to open with
    ``lcdev trace``."""
    ex.extra_headers += (("x-request-id", ex.request_id), ("traceparent", ex.trace.traceparent))


class Gateway:
    """The workspace's HTTP entry point, independent of how connections are accepted."""

    def __init__(self, config: GatewayConfig, log: GatewayLog) -> None:
        self.log = log
        self.jwks = JwksKeys()
        self.buckets = TokenBuckets()
        self.pool = UpstreamPool(config.connect_timeout_s)
        self.table = RouteTable.from_config(config, self.jwks)
        self.spans: RequestSpans | None = None  # set once telemetry is up (server.py)

    def apply(self, config: GatewayConfig) -> None:
        """Serve a new configuration from the next request on."""
        self.table = RouteTable.from_config(config, self.jwks)
        self.pool.connect_timeout_s = config.connect_timeout_s

    async def handle(self, request: RequestHead, source: RequestReader,
                     writer: asyncio.StreamWriter, client: str) -> bool:
        """Answer one request; True when the connection may serve another."""
        ex = Exchange(request, source, writer, client,
                      request_id_from(request.get("x-request-id")),
                      trace_context(request.get("traceparent"), request.get("tracestate")))
        # readiness probes are not traced: they would bury the requests users look for
        spans = self.spans if request.path != "/_lcdev/health" else None
        span = spans.start(ex) if spans is not None else None
        failure: Exception | None = None
        _name_the_exchange(ex)
        ex.body_pending = not source.complete
        try:
            await self._dispatch(ex, self.table)
        except HttpError as exc:  # the request's framing is bad: answer, then close
            ex.body_pending = True
            if not ex.status:
                await send_problem(ex, exc.status, exc.detail, title=exc.title)
        except ClientGone as exc:
            ex.keep_alive, ex.body_pending = False, True
            if not ex.status:  # the caller may still be there to read why
                with contextlib.suppress(ConnectionError):
                    await send_problem(ex, 400, str(exc), service=ex.service)
            ex.error = str(exc)
        except ConnectionError as exc:
            ex.keep_alive, ex.error = False, f"the client went away: {exc!r}"
        except Exception as exc:  # a bug: answer and report it rather than drop the client
            ex.keep_alive, failure = False, exc
            self.log.event("error", "error", f"the gateway failed: {exc!r}",
                           request_id=ex.request_id, trace_id=ex.trace.trace_id,
                           span_id=ex.trace.span_id, error=repr(exc),
                           traceback=traceback.format_exc())
            if not ex.status:
                await send_problem(ex, 500, f"the gateway failed: {exc!r}")
        finally:
            if spans is not None and span is not None:
                spans.end(ex, span, failure)
            self.log.access(ex)
        return ex.keep_alive

    async def reject(self, source: RequestReader, writer: asyncio.StreamWriter,
                     client: str, error: HttpError) -> None:
        """Answer a request that could not be parsed, and log it."""
        request = RequestHead("-", "-", "-", "", "1.1", [], [], {})
        ex = Exchange(request, source, writer, client, request_id_from(None),
                      trace_context(None, None), keep_alive=False)
        spans = self.spans
        span = spans.start(ex) if spans is not None else None
        _name_the_exchange(ex)
        try:
            await send_problem(ex, error.status, error.detail, title=error.title)
        except ConnectionError:
            pass
        finally:
            if spans is not None and span is not None:
                spans.end(ex, span)
            self.log.access(ex)

    async def _dispatch(self, ex: Exchange, table: RouteTable) -> None:
        request = ex.request
        if request.path.startswith("/_lcdev/"):
            await self._own(ex, table)
            return
        route = table.match(request.path)
        if route is None:
            await send_problem(ex, 404, f"no service is routed at {request.path}",
                               routes=table.prefixes)
            return
        ex.service, ex.route = route.service, route.prefix
        if request.upgrade:
            await send_problem(ex, 501, "the gateway does not pass on protocol upgrades"
                               " (WebSocket)", service=route.service)
            return
        origin = request.get("origin")
        asked = request.get("access-control-request-method")
        preflight = request.method == "OPTIONS" and origin is not None and asked is not None
        policy = route.policy_for(asked if preflight and asked else request.method,
                                  request.path)
        if policy.cors is not None and origin is not None:
            if preflight and asked is not None:
                try:
                    headers = policy.cors.preflight(
                        origin, asked, request.get("access-control-request-headers"))
                except CorsRefused as exc:
                    await send_problem(ex, 403, f"CORS preflight refused: {exc}",
                                       service=route.service)
                    return
                await send_response(ex, 204, headers, b"")
                return
            ex.extra_headers += policy.cors.response_headers(origin)
        try:
            # no coroutine for a route without authentication (the common case here)
            identity = (None if type(policy.auth) is Authenticator
                        else await policy.auth.authenticate(request))
        except AuthFailed as exc:
            challenge = [("www-authenticate", exc.challenge)] if exc.challenge else []
            await send_problem(ex, exc.status, exc.detail, challenge, service=route.service)
            return
        limit = policy.rate_limit
        if limit is not None:
            wait = self.buckets.take(policy.rate_scope, limit, identity or f"ip:{ex.client}")
            if wait:
                await send_problem(
                    ex, 429, f"rate limit of service '{route.service}' exceeded"
                    f" ({limit.requests} requests per {limit.per_s:g} s, burst"
                    f" {limit.burst}); retry in {wait} s", [("retry-after", str(wait))],
                    service=route.service, retry_after=wait)
                return
        await self._forward(ex, route, table, strip_cors=policy.cors is not None)

    async def _forward(self, ex: Exchange, route: Route, table: RouteTable,
                       strip_cors: bool) -> None:
        if route.address is None:
            await send_problem(ex, 503, f"service '{route.service}' is not running",
                               service=route.service)
            return
        try:
            await forward(ex, self.pool, route.address, table.config.timeout_s, strip_cors)
        except UpstreamFailure as exc:
            status, template = _FAILURES[exc.kind]
            await send_problem(ex, status, template.format(route.service, exc.detail),
                               service=route.service)

    async def _own(self, ex: Exchange, table: RouteTable) -> None:
        path, method = ex.request.path, ex.request.method
        known = {"/_lcdev/health", "/_lcdev/routes", "/_lcdev/openapi.json"}
        if path not in known:
            await send_problem(ex, 404, f"the gateway has no endpoint {path}",
                               endpoints=sorted(known))
        elif method not in ("GET", "HEAD"):
            await send_problem(ex, 405, f"{path} answers GET only", [("allow", "GET, HEAD")])
        elif path == "/_lcdev/health":
            await send_json(ex, 200, {"status": "ok", "routes": len(table.routes),
                                      "generation": table.config.generation})
        elif path == "/_lcdev/routes":
            await send_json(ex, 200, [route.describe() for route in table.routes])
        else:
            host = ex.request.get("host") or "127.0.0.1"
            server = table.config.public_url or f"http://{host}"
            await send_json(ex, 200, await merged_openapi(table, self.pool, server))
