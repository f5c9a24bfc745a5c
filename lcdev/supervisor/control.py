"""The supervisor's control API: a small HTTP API on a unix socket (mode 0600).

``lcdev`` commands and the dashboard are its clients. Streams are NDJSON: one event per line,
in the same ``Event.to_dict`` shape the CLI and TUI decode.

- ``GET  /v1/status``                          components, services, URLs
- ``GET  /v1/events?logs=0|1&follow=0|1``      history, then live events
- ``GET  /v1/logs?source=&tail=200&follow=0|1`` log lines
- ``POST /v1/shutdown?remove_data=0|1``        stop everything (``down``)
- ``POST /v1/components/{name}/restart``       restart one component
- ``POST /v1/reload``                          ``lcdev apply``: body ``{"services": [...],
  "allow_destructive": bool}``; answers the events the reload produced once it ended
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from lcdev.core.events import Event, LogLineEmitted
from lcdev.supervisor.supervisor import Supervisor

__all__ = ["ReloadNow", "build_control_app"]

ReloadNow = Callable[[list[str], bool], Awaitable[list[Event] | None]]
"""Runs a reload now (services, allow_destructive); None while the stack is not ready."""


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() in {"1", "true", "yes"}


async def _ndjson(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    async for event in events:
        yield (json.dumps(event.to_dict()) + "\n").encode()


def build_control_app(
    supervisor: Supervisor,
    status_extra: Callable[[], dict[str, Any]],
    request_shutdown: Callable[[bool], None],
    reload_now: ReloadNow | None = None,
) -> Starlette:
    """The control API for one supervisor."""

    async def status(_: Request) -> Response:
        body = {
            "pid": os.getpid(),
            "phase": supervisor.phase,
            "backend": supervisor.backend.name,
            "started_at": supervisor.started_at,
            "gateway_url": supervisor.gateway_url(),
            "components": [r.to_dict() for r in supervisor.runtimes.values()],
            **status_extra(),
        }
        return JSONResponse(body)

    async def events(request: Request) -> Response:
        include_logs = _flag(request, "logs", False)
        follow = _flag(request, "follow", True)
        replay = supervisor.bus.history()
        if not follow:
            return StreamingResponse(_ndjson(_iterate(replay)), media_type="application/x-ndjson")
        stream = supervisor.bus.subscribe(include_logs=include_logs, replay=replay)
        return StreamingResponse(_ndjson(stream), media_type="application/x-ndjson")

    async def logs(request: Request) -> Response:
        source = request.query_params.get("source") or None
        try:
            tail = int(request.query_params.get("tail", "200"))
        except ValueError:
            return JSONResponse({"detail": "tail must be a whole number"}, status_code=400)
        if source is not None and source not in supervisor.runtimes:
            known = ", ".join(supervisor.runtimes)
            return JSONResponse(
                {"detail": f"no component named '{source}' (known: {known})"}, status_code=404
            )
        backlog: list[Event] = list(supervisor.bus.log_tail(source, tail))
        if not _flag(request, "follow", False):
            return StreamingResponse(_ndjson(_iterate(backlog)), media_type="application/x-ndjson")

        async def live() -> AsyncIterator[Event]:
            async for event in supervisor.bus.subscribe(include_logs=True, replay=backlog):
                if isinstance(event, LogLineEmitted) and source in (None, event.source):
                    yield event

        return StreamingResponse(_ndjson(live()), media_type="application/x-ndjson")

    async def shutdown(request: Request) -> Response:
        request_shutdown(_flag(request, "remove_data", False))
        return JSONResponse({"stopping": True}, status_code=202)

    async def restart(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in supervisor.runtimes:
            return JSONResponse({"detail": f"no component named '{name}'"}, status_code=404)
        asyncio.create_task(supervisor.restart(name))
        return JSONResponse({"restarting": name}, status_code=202)

    async def reload(request: Request) -> Response:
        try:
            body = await request.json() if await request.body() else {}
        except ValueError:
            return JSONResponse({"detail": "the body must be JSON"}, status_code=400)
        services = body.get("services", []) if isinstance(body, dict) else None
        allow = body.get("allow_destructive", False) if isinstance(body, dict) else None
        if (not isinstance(services, list) or not all(isinstance(s, str) for s in services)
                or not isinstance(allow, bool)):
            return JSONResponse(
                {"detail": 'expected {"services": [names], "allow_destructive": true|false}'},
                status_code=400)
        events = await reload_now(services, allow) if reload_now is not None else None
        if events is None:
            return JSONResponse({"detail": "the stack is not ready yet; try again once"
                                           " `lcdev up` reported it ready"}, status_code=409)
        return JSONResponse([event.to_dict() for event in events])

    return Starlette(
        routes=[
            Route("/v1/status", status),
            Route("/v1/events", events),
            Route("/v1/logs", logs),
            Route("/v1/shutdown", shutdown, methods=["POST"]),
            Route("/v1/components/{name}/restart", restart, methods=["POST"]),
            Route("/v1/reload", reload, methods=["POST"]),
        ]
    )


async def _iterate(events: list[Event]) -> AsyncIterator[Event]:
    for event in events:
        yield event
