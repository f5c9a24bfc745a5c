"""Requests across a reload, over real HTTP connections (uvicorn): a request in flight
finishes on the version it started on, the next one gets the new version, and a stream of
concurrent requests across a field-adding reload sees no failure. Plus who may reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.runtime.reload.workspace import TOKEN, Workspace, notes_yaml, running, wait_until


def test_a_request_in_flight_finishes_on_the_old_version(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap, http=True) as rt:
            old = rt.entry.switch.current
            slow = asyncio.create_task(rt.client.post(f"{ws.base}/slow", json={"seconds": 0.6}))
            await wait_until(lambda: _is(old.in_flight == 1), 5, "the slow request")
            ws.write_hooks("B")
            answer = await rt.reload(force=True)
            assert answer["outcome"] == "reloaded"
            assert not slow.done()  # the reload did not wait for it
            assert old.retired
            assert old.in_flight == 1
            assert (await rt.client.get(f"{ws.base}/which")).json()["code"] == "B"
            assert (await rt.client.post(f"{ws.base}/slow", json={"seconds": 0})).json() == {
                "code": "B"}
            response = await slow
            assert response.status_code == 200
            assert response.json() == {"code": "A"}
            await asyncio.wait_for(old.wait_drained(), 1)
            assert rt.entry.switch.current.in_flight == 0

    asyncio.run(scenario())


async def _is(value: bool) -> bool:
    return value


MOOD = "      mood: text"


@pytest.mark.parametrize(("start", "edit", "allow_destructive", "change"), [
    pytest.param("", lambda name: notes_yaml(name, version="1.1.0", fields=MOOD),
                 False, "add column {name}.note.mood", id="field added"),
    pytest.param(MOOD, lambda name: notes_yaml(name, version="2.0.0"),
                 True, "would drop column {name}.note.mood", id="field dropped"),
    pytest.param("", lambda name: notes_yaml(name, version="1.0.1").replace("(20)", "(40)"),
                 False, "widen column {name}.note.text", id="field widened"),
])
def test_no_request_fails_across_a_schema_changing_reload(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path, start: str,
        edit: Callable[[str], str], allow_destructive: bool, change: str) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        ws.write_service(notes_yaml(ws.name, fields=start))
        async with running(ws, pg_dsn, kafka_bootstrap, http=True, pool_max=4) as rt:
            notes = f"{ws.base}/notes"
            statuses: list[tuple[str, int]] = []
            stop_at: list[float] = []

            async def hammer(client: httpx.AsyncClient) -> None:
                deadline = time.monotonic() + 20  # bounded, whatever happens
                while time.monotonic() < deadline and not (
                        stop_at and time.monotonic() > stop_at[0]):
                    created = await client.post(notes, json={"text": "hammer"})
                    statuses.append(("create", created.status_code))
                    if created.status_code == 201:
                        got = await client.get(f"{notes}/{created.json()['id']}")
                        statuses.append(("get", got.status_code))
                    listed = await client.get(notes, params={"limit": 5, "sort": "-created_at"})
                    statuses.append(("list", listed.status_code))

            async with httpx.AsyncClient(base_url=str(rt.client.base_url), timeout=10,
                                         limits=httpx.Limits(max_connections=8)) as client:
                workers = [asyncio.create_task(hammer(client)) for _ in range(8)]
                await wait_until(lambda: _is(len(statuses) > 100), 10, "traffic")
                ws.write_service(edit(ws.name))
                before = len(statuses)
                answer = await rt.reload(allow_destructive=allow_destructive)
                during = len(statuses) - before
                stop_at.append(time.monotonic() + 0.5)
                await asyncio.gather(*workers)
            assert answer["outcome"] == "reloaded", answer
            assert len(answer["changes"]) == 1
            assert answer["changes"][0].startswith(change.format(name=ws.name))
            failed = [s for s in statuses if s[1] >= 300]
            assert failed == [], f"{len(failed)} of {len(statuses)} failed: {failed[:5]}"
            assert during > 0, "no request was answered while the reload ran"
            assert len(statuses) - before - during > 0, "no request came after the reload"

    asyncio.run(scenario())


def test_only_the_holder_of_the_token_may_reload(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap, http=True) as rt:
            post = rt.client.post
            missing = await post("/_lcdev/reload", json={})
            wrong = await post("/_lcdev/reload", json={}, headers={"x-lcdev-token": "nope"})
            assert (missing.status_code, wrong.status_code) == (403, 403)
            assert missing.headers["content-type"] == "application/problem+json"
            ok = {"x-lcdev-token": TOKEN}
            assert (await rt.client.get("/_lcdev/reload", headers=ok)).status_code == 405
            bad = await post("/_lcdev/reload", headers=ok, json={"force": "yes", "x": 1})
            assert bad.status_code == 422
            assert {e["field"] for e in bad.json()["errors"]} == {"force", "x"}
            empty = await post("/_lcdev/reload", headers=ok)  # no body: the defaults
            assert empty.status_code == 200
            assert empty.json()["outcome"] == "unchanged"

    asyncio.run(scenario())


def test_without_a_token_reload_is_an_unknown_path(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap, token=None) as rt:
            for token in ("", TOKEN):
                response = await rt.client.post("/_lcdev/reload", json={},
                                                headers={"x-lcdev-token": token})
                assert response.status_code == 404
                assert response.json()["detail"] == "nothing is served at /_lcdev/reload"

    asyncio.run(scenario())
