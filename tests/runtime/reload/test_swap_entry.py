"""The swap entry on its own, with small in-memory ASGI apps: which app a request gets,
what is counted in flight, and the control endpoint's checks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from lcdev.runtime.swap import AppSwitch, SwapEntry


def _app(name: str, gate: asyncio.Event | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if gate is not None:
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": name.encode()})

    return app


def test_requests_get_the_app_current_when_they_arrive() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()
        switch = AppSwitch(_app("one", gate), "1")
        entry = SwapEntry(switch)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=entry),
                                     base_url="http://svc") as client:
            first = asyncio.create_task(client.get("/x"))
            while switch.current.in_flight == 0:
                await asyncio.sleep(0)
            old = switch.swap(_app("two"), "2")
            assert old.retired
            assert old.in_flight == 1
            assert (switch.current.version, switch.current.number) == ("2", 2)
            assert (await client.get("/x")).text == "two"
            drained = asyncio.create_task(old.wait_drained())
            await asyncio.sleep(0)
            assert not drained.done()
            gate.set()
            assert (await first).text == "one"
            await asyncio.wait_for(drained, 1)
            assert old.in_flight == 0
            assert switch.current.in_flight == 0

    asyncio.run(scenario())


def test_requests_arriving_during_a_hold_go_to_the_app_current_at_its_release() -> None:
    async def scenario() -> None:
        switch = AppSwitch(_app("one"), "1")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=SwapEntry(switch)),
                                     base_url="http://svc") as client:
            switch.hold()
            held = asyncio.create_task(client.get("/x"))
            await asyncio.sleep(0.05)
            assert not held.done()
            assert switch.current.in_flight == 0  # waiting is not being in flight
            switch.swap(_app("two"), "2")
            switch.release()
            assert (await held).text == "two"

    asyncio.run(scenario())


def test_a_generation_with_nothing_in_flight_is_drained_when_retired() -> None:
    async def scenario() -> None:
        switch = AppSwitch(_app("one"), "1")
        old = switch.swap(_app("two"), "2")
        await asyncio.wait_for(old.wait_drained(), 1)

    asyncio.run(scenario())


def test_the_control_endpoint_passes_the_options_to_the_reload() -> None:
    calls: list[tuple[bool, bool]] = []

    async def reload(allow_destructive: bool, force: bool) -> dict[str, Any]:
        calls.append((allow_destructive, force))
        return {"outcome": "unchanged"}

    async def scenario() -> None:
        entry = SwapEntry(AppSwitch(_app("one"), "1"), token="s3cret", reload=reload)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=entry),
                                     base_url="http://svc") as client:
            headers = {"x-lcdev-token": "s3cret"}
            answer = await client.post("/_lcdev/reload", headers=headers,
                                       json={"allow_destructive": True})
            assert answer.json() == {"outcome": "unchanged"}
            assert (await client.post("/_lcdev/reload", headers=headers,
                                      content=b"[1]")).status_code == 400
            assert (await client.post("/_lcdev/reload", headers=headers,
                                      content=b"{")).status_code == 400
            assert (await client.post("/_lcdev/reload", json={})).status_code == 403
            assert (await client.get("/_lcdev/reloaded")).text == "one"  # not the path
        assert calls == [(True, False)]

    asyncio.run(scenario())
