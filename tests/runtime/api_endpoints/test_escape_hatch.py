"""Handler endpoints end to end: what a handler gets, and what its outcomes become."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lcdev.runtime.api.endpoints import EndpointRunner
from lcdev.runtime.api.handlers import HandlerError
from lcdev.runtime.data import repositories
from tests.runtime.api_endpoints.helpers import Stack, running, service_from_yaml

NOTES = """
name: x
settings:
  greeting: {type: string, default: hello}
entities:
  Note:
    fields:
      text: text!
      status: enum(open, archived)! = open
endpoints:
  echo:
    method: POST
    path: /echo/{slug}
    handler: hooks:echo
  archive:
    method: POST
    path: /notes/{id}/archive
    entity: Note
    handler: hooks:archive
  refuse:
    method: POST
    path: /refuse
    request: {text: text!}
    handler: hooks:refuse
  crash:
    method: POST
    path: /crash
    handler: hooks:crash
  shout:
    method: POST
    path: /shout
    request: {text: string(20)!}
    handler: hooks:shout
publishes:
  NoteArchived:
    entity: Note
    when: updated
    if: status == archived
    payload: {id: uuid!}
  NoteCreated:
    entity: Note
    when: created
    payload: {id: uuid!, text: text!}
  Shouted:
    payload: {text: string!, loud: boolean!}
"""

HOOKS = '''
import uuid

from .texts import upper


async def echo(ctx):
    return {"body": ctx.body, "slug": ctx.path_params["slug"], "greeting":
            ctx.settings["greeting"], "endpoint": ctx.endpoint, "service": ctx.service.name}


async def archive(ctx):
    row = await ctx.update("Note", uuid.UUID(ctx.path_params["id"]), {"status": "archived"})
    if row is None:
        raise ctx.ProblemError(404, "no such note")
    return None


async def refuse(ctx):
    await ctx.insert("Note", {"text": ctx.body["text"]})
    raise ctx.ProblemError(409, "refused after writing", errors=[
        {"field": "text", "message": "not today"}])


async def crash(ctx):
    await ctx.insert("Note", {"text": "half done"})
    raise RuntimeError("internal detail that must not leak")


async def shout(ctx):
    event_id = await ctx.publish("Shouted", {"text": upper(ctx.body["text"]), "loud": True})
    if ctx.body["text"] == "twice":
        await ctx.publish("Shouted", {"text": "no loud field"})
    return {"event_id": event_id}
'''


def folder(root: Path) -> Path:
    (root / "hooks.py").write_text(HOOKS)
    (root / "texts.py").write_text("def upper(text):\n    return text.upper()\n")
    return root


def scenario(pg_dsn: str, root: Path, work: Callable[[Stack], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with running(pg_dsn, service_from_yaml(NOTES), folder(root)) as stack:
            return await work(stack)

    return asyncio.run(go())


def test_the_handler_gets_body_path_settings_and_service(pg_dsn: str, tmp_path: Path) -> None:
    async def work(stack: Stack) -> None:
        response = await stack.client.post(f"{stack.service.route}/echo/abc",
                                           json={"anything": [1, "x"]})
        assert response.status_code == 200
        assert response.json() == {"body": {"anything": [1, "x"]}, "slug": "abc",
                                   "greeting": "hello", "endpoint": "echo",
                                   "service": stack.service.name}
        empty = await stack.client.post(f"{stack.service.route}/echo/x")
        assert empty.json()["body"] == {}

    scenario(pg_dsn, tmp_path, work)


def test_writes_through_the_context_emit_the_declared_events(
    pg_dsn: str, tmp_path: Path,
) -> None:
    async def work(stack: Stack) -> None:
        async with stack.pool.acquire() as conn:
            note = await stack.runner.repos["Note"].insert(conn, {"text": "a"})
        response = await stack.client.post(f"{stack.service.route}/notes/{note['id']}/archive")
        assert response.status_code == 204
        assert response.content == b""
        events = await stack.outbox()
        assert [(e["event"], e["payload"]) for e in events] == [
            ("NoteArchived", {"id": str(note["id"])})]
        missing = await stack.client.post(f"{stack.service.route}/notes/{uuid.uuid4()}/archive")
        assert missing.status_code == 404

    scenario(pg_dsn, tmp_path, work)


def test_a_problem_raised_by_the_handler_rolls_everything_back(
    pg_dsn: str, tmp_path: Path,
) -> None:
    async def work(stack: Stack) -> None:
        response = await stack.client.post(f"{stack.service.route}/refuse",
                                           json={"text": "new note"})
        assert response.status_code == 409
        assert response.json()["errors"] == [{"field": "text", "message": "not today"}]
        assert await stack.fetch("SELECT * FROM {schema}.note") == []
        assert await stack.outbox() == []

    scenario(pg_dsn, tmp_path, work)


def test_a_crashing_handler_is_a_500_problem_and_writes_nothing(
    pg_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async def work(stack: Stack) -> None:
        response = await stack.client.post(f"{stack.service.route}/crash",
                                           headers={"X-Request-Id": "crash-1"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["request_id"] == "crash-1"
        assert "internal detail" not in response.text
        assert await stack.fetch("SELECT * FROM {schema}.note") == []
        assert await stack.outbox() == []

    scenario(pg_dsn, tmp_path, work)
    assert any("crash-1" in r.getMessage() for r in caplog.records)


def test_publish_from_a_handler_uses_the_outbox_and_checks_the_payload(
    pg_dsn: str, tmp_path: Path,
) -> None:
    async def work(stack: Stack) -> None:
        response = await stack.client.post(f"{stack.service.route}/shout", json={"text": "hi"})
        assert response.status_code == 200
        [event] = await stack.outbox()
        assert event["payload"] == {"text": "HI", "loud": True}
        assert response.json()["event_id"] == str(uuid.UUID(response.json()["event_id"]))
        broken = await stack.client.post(f"{stack.service.route}/shout",
                                         json={"text": "twice"})
        assert broken.status_code == 500  # a payload that breaks the contract is a bug
        assert len(await stack.outbox()) == 1

    scenario(pg_dsn, tmp_path, work)


def test_a_service_with_a_broken_handler_does_not_start(tmp_path: Path) -> None:
    service = service_from_yaml(NOTES)
    (tmp_path / "hooks.py").write_text("async def echo(ctx):\n    return {}\n")
    with pytest.raises(HandlerError, match="hooks.py has no function 'archive'"):
        EndpointRunner(service, repositories(service), service_dir=tmp_path)
    with pytest.raises(HandlerError, match="needs the service folder"):
        EndpointRunner(service, repositories(service))
