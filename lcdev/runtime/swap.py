"""The ASGI entry of a service process: the current app, swappable in place.

A service process serves one :class:`SwapEntry`. It passes every request to the app of the
*current* :class:`Generation` (the app built from one version of the definition) and counts the
request as in flight on that generation until the app has answered. A hot reload builds a new
app and calls :meth:`AppSwitch.swap`: requests accepted from then on get the new app, while
those already in flight finish on the one they started on (their generation is retired and
reports when its last request ended). The swap itself is one assignment on the event loop;
only while a migration changes columns the current app reads are new requests held (see
:meth:`AppSwitch.hold`), so that no request runs across it.

The entry also serves ``POST /_lcdev/reload`` itself, outside every service route (so the
gateway never forwards it, and it is never traced), when the process was given a control
token (``LCDEV_CONTROL_TOKEN``). The request must carry it in ``x-lcdev-token`` (else 403);
the body is ``{"allow_destructive": bool, "force": bool}`` and the answer the reload's JSON
(docs/reload-internals.md). Without a token reload is off and the path is an unknown path
like any other (404 from the app).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from lcdev.runtime.problems import ProblemError

__all__ = ["RELOAD_PATH", "TOKEN_HEADER", "AppSwitch", "Generation", "ReloadCall", "SwapEntry"]

RELOAD_PATH = "/_lcdev/reload"
TOKEN_HEADER = b"x-lcdev-token"
_MAX_BODY = 64 * 1024

ReloadCall = Callable[[bool, bool], Awaitable[dict[str, Any]]]
"""``(allow_destructive, force) -> the reload's JSON answer``."""


class Generation:
    """One app and the requests in flight on it."""

    def __init__(self, app: ASGIApp, version: str, number: int) -> None:
        self.app = app
        self.version = version
        self.number = number
        self.in_flight = 0
        self.retired = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def retire(self) -> None:
        """No new request comes here any more."""
        self.retired = True

    async def wait_idle(self) -> None:
        """Until no request is in flight here (at once when none is)."""
        await self._idle.wait()

    async def wait_drained(self) -> None:
        """Until the generation is retired and its last request in flight ended."""
        assert self.retired, "only a retired generation drains"
        await self._idle.wait()


class AppSwitch:
    """Which generation is current; :meth:`swap` makes a new one current.

    :meth:`hold` makes new requests wait (they are not in flight anywhere yet) until
    :meth:`release`; then they go to whichever generation is current. A reload holds requests
    while a migration changes what the current app reads, so none runs across it."""

    def __init__(self, app: ASGIApp, version: str) -> None:
        self.current = Generation(app, version, 1)
        self._open = asyncio.Event()
        self._open.set()

    @property
    def held(self) -> bool:
        return not self._open.is_set()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def admit(self) -> Generation:
        """The generation a request arriving now goes to (after a hold, if one is on)."""
        if not self._open.is_set():
            await self._open.wait()
        return self.current

    def swap(self, app: ASGIApp, version: str) -> Generation:
        """Serve ``app`` from now on; returns the previous generation, now retired."""
        old = self.current
        self.current = Generation(app, version, old.number + 1)
        old.retire()
        return old


class SwapEntry:
    """The process's ASGI app (see the module docstring)."""

    def __init__(self, switch: AppSwitch, *, token: str | None = None,
                 reload: ReloadCall | None = None) -> None:
        self.switch = switch
        self._token = token.encode() if token else None
        self._reload = reload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.switch.current.app(scope, receive, send)
            return
        if (self._token is not None and scope["type"] == "http"
                and scope["path"] == RELOAD_PATH):
            await self._control(scope, receive, send)
            return
        generation = await self.switch.admit()
        generation.enter()
        try:
            await generation.app(scope, receive, send)
        finally:
            generation.leave()

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self._reload_request(scope, receive)
        except ProblemError as problem:
            await problem.response()(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})

    async def _reload_request(self, scope: Scope, receive: Receive) -> bytes:
        import hmac  # only here: a service start does not pay for it

        given = dict(scope["headers"]).get(TOKEN_HEADER, b"")
        assert self._token is not None
        if not hmac.compare_digest(given, self._token):
            raise ProblemError(403, f"{RELOAD_PATH} needs the process's control token in"
                               f" the {TOKEN_HEADER.decode()} header")
        if scope["method"] != "POST":
            raise ProblemError(405, f"{scope['method']} is not allowed on {RELOAD_PATH};"
                               " allowed: POST", headers={"Allow": "POST"})
        options = _options(await _read_body(receive))
        if self._reload is None:
            raise ProblemError(503, "this process cannot reload")
        # Shielded: a caller that goes away must not leave a reload half done.
        task = asyncio.ensure_future(self._reload(options["allow_destructive"],
                                                  options["force"]))
        return orjson.dumps(await asyncio.shield(task))


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ProblemError(400, "the client went away before sending its request")
        body += message.get("body", b"")
        if len(body) > _MAX_BODY:
            raise ProblemError(413, f"the request body is larger than {_MAX_BODY} bytes")
        if not message.get("more_body", False):
            return bytes(body)


def _options(body: bytes) -> dict[str, bool]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise ProblemError(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProblemError(400, "the request body must be a JSON object")
    options = {"allow_destructive": False, "force": False}
    errors = [{"field": key, "message": "unknown field"} for key in data if key not in options]
    for key in options:
        value = data.get(key, False)
        if isinstance(value, bool):
            options[key] = value
        else:
            errors.append({"field": key, "message": "must be true or false"})
    if errors:
        raise ProblemError(422, "the reload request has invalid fields", errors=errors)
    return options
