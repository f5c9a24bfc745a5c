"""HTTP middleware of a low-code service (pure ASGI): request ids, body limits, JSON bodies, and
every error as ``application/problem+json``.

- ``X-Request-Id``: the caller's (the gateway sets one) is kept, else one is made; it is echoed
  on every response and stored in ``scope["state"]["request_id"]``.
- A body larger than ``max_body`` (default 1 MiB) answers 413, checked on ``Content-Length``
  before anything is read and again while streaming (chunked bodies).
- A body must be JSON (``application/json`` or ``application/*+json``), else 415.
- A :class:`ProblemError` raised anywhere answers its problem; losing the database (refused or
  dropped connections, a pool closing for a reload, too many connections) answers 503 with
  ``Retry-After``; any other exception answers a 500 problem naming the request id and is
  logged with its traceback (never sent). Both are recorded on the current (server) span.
- The caller's ``traceparent``/``tracestate`` are passed on verbatim to the events the request
  enqueues while no span is current (tracing off); with tracing on, the server span of
  api/tracing.py, outside this middleware, carries the trace instead.

Starlette's own ``HTTPException`` (unknown path 404, wrong method 405) is turned into a problem
by :func:`problem_exception_handlers`, to be passed to ``Starlette(exception_handlers=...)``.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from opentelemetry import trace
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lcdev.runtime.events.trace import passed_trace_headers
from lcdev.runtime.observability.spans import mark_error
from lcdev.runtime.problems import ProblemError

__all__ = [
    "DATABASE_UNAVAILABLE",
    "DEFAULT_MAX_BODY",
    "ServiceMiddleware",
    "is_json",
    "problem_exception_handlers",
]

DEFAULT_MAX_BODY = 1024 * 1024
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.InterfaceError,
)
"""Errors meaning the database cannot be used now (not that the request was wrong)."""
_JSON = re.compile(r"^application/([\w.+-]+\+)?json$", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[\w.:/+=-]{1,200}$")
log = logging.getLogger("lcdev.runtime.http")


def is_json(content_type: str | None) -> bool:
    """True for ``application/json`` and ``application/<x>+json``, parameters ignored."""
    return bool(content_type) and bool(_JSON.match((content_type or "").split(";")[0].strip()))


class _BodyTooLarge(Exception):
    pass


class ServiceMiddleware:
    """Wraps a service's ASGI app; see the module docstring for what it guarantees."""

    def __init__(self, app: ASGIApp, *, max_body: int = DEFAULT_MAX_BODY,
                 logger: logging.Logger | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.log = logger or log

    @classmethod
    def as_middleware(cls, *, max_body: int = DEFAULT_MAX_BODY,
                      logger: logging.Logger | None = None) -> Middleware:
        """This middleware for ``Starlette(middleware=[...])``."""
        return Middleware(cls, max_body=max_body, logger=logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = False
        passed = passed_trace_headers.set(headers) if "traceparent" in headers else None

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                raw = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() != b"x-request-id"]
                raw.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": raw}
            await send(message)

        try:
            early = self._check(scope["method"], headers)
            if early is not None:
                raise early
            await self.app(scope, self._limited(receive), send_with_id)
        except _BodyTooLarge:
            if not started:
                await _send_problem(self._too_large(), scope, receive, send_with_id)
        except ProblemError as problem:
            if problem.status >= 500:
                mark_error(trace.get_current_span(), problem)
            if not started:
                await _send_problem(problem, scope, receive, send_with_id)
        except DATABASE_UNAVAILABLE as exc:
            mark_error(trace.get_current_span(), exc)
            self.log.warning("request %s %s: database unavailable (request id %s): %s",
                             scope["method"], scope.get("path", ""), request_id, exc)
            if not started:
                unavailable = ProblemError(
                    503, "the service cannot reach its database right now; retry shortly",
                    headers={"Retry-After": "1"}, request_id=request_id)
                await _send_problem(unavailable, scope, receive, send_with_id)
        except Exception as exc:
            mark_error(trace.get_current_span(), exc)
            self.log.exception("request %s %s failed (request id %s)", scope["method"],
                               scope.get("path", ""), request_id)
            if not started:
                failure = ProblemError(
                    500, f"the service failed to handle the request; its log has the details"
                    f" (request id {request_id})", request_id=request_id,
                )
                await _send_problem(failure, scope, receive, send_with_id)
        finally:
            if passed is not None:
                passed_trace_headers.reset(passed)

    def _too_large(self) -> ProblemError:
        return ProblemError(413, f"the request body is larger than {self.max_body} bytes",
                            limit=self.max_body)

    def _check(self, method: str, headers: Mapping[str, str]) -> ProblemError | None:
        length = headers.get("content-length")
        has_body = "transfer-encoding" in headers
        if length is not None:
            if not length.isdigit():
                return ProblemError(400, f"invalid Content-Length '{length}'")
            if int(length) > self.max_body:
                return self._too_large()
            has_body = has_body or int(length) > 0
        if has_body and not is_json(headers.get("content-type")):
            shown = headers.get("content-type") or "none"
            return ProblemError(
                415, f"the request body must be JSON (Content-Type application/json or"
                f" application/*+json), found {shown}",
            )
        return None

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        return limited


async def _send_problem(problem: ProblemError, scope: Scope, receive: Receive,
                        send: Send) -> None:
    await problem.response()(scope, receive, send)


def _http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    detail = str(exc.detail) if isinstance(exc, HTTPException) else "internal error"
    if status == 404:
        detail = f"nothing is served at {request.url.path}"
    elif status == 405:
        allowed = headers.get("Allow") or headers.get("allow") or ""
        detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
    return ProblemError(status, detail, headers=headers).response()


def _problem(_request: Request, exc: Exception) -> Response:
    if isinstance(exc, ProblemError):
        return exc.response()
    return _http_exception(_request, exc)


def problem_exception_handlers() -> dict[Any, Callable[[Request, Exception], Response]]:
    """Starlette exception handlers answering ``HTTPException`` and ``ProblemError`` as
    problems (404 for unknown paths, 405 with ``Allow`` for wrong methods)."""
    return {HTTPException: _http_exception, ProblemError: _problem}
