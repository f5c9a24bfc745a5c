"""Reloading escape-hatch modules: ``force`` imports them afresh (siblings too, even an edit of
the same size in the same second); a module that does not import fails the reload at its
``file:line`` and the running version keeps its code."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.runtime.reload.workspace import Workspace, running


def test_force_imports_the_edited_handler_and_its_siblings(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as on a developer's machine

    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            which = f"{ws.base}/which"
            assert (await rt.client.get(which)).json() == {"code": "A", "tag": "t1"}
            ws.write_hooks("B")
            tag = ws.folder / "tag.py"
            stat = tag.stat()
            tag.write_text('TAG = "t2"\n')  # same size and mtime: the bytecode cache is stale
            os.utime(tag, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            assert (await rt.reload())["outcome"] == "unchanged"
            assert (await rt.client.get(which)).json() == {"code": "A", "tag": "t1"}
            answer = await rt.reload(force=True)
            assert answer["outcome"] == "reloaded", answer["problems"] or answer
            assert (await rt.client.get(which)).json() == {"code": "B", "tag": "t2"}

    asyncio.run(scenario())


@pytest.mark.parametrize(("source", "line", "error"), [
    ("import asyncio\n\nasync def which(ctx)\n    return {}\n", 3, "SyntaxError"),
    ("import asyncio\n\n\nraise RuntimeError('not today')\n", 4, "RuntimeError: not today"),
])
def test_a_module_that_does_not_import_fails_and_the_old_code_serves(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path, source: str, line: int,
        error: str) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            generation = rt.entry.switch.current
            ws.write("hooks.py", source)
            answer = await rt.reload(force=True)
            assert answer["outcome"] == "failed"
            assert len(answer["problems"]) == 1
            problem = answer["problems"][0]
            assert problem.startswith(f"services/{ws.name}/hooks.py:{line}: error: "), problem
            assert error in problem
            assert error in answer["message"]
            assert rt.entry.switch.current is generation
            assert (await rt.client.get(f"{ws.base}/which")).json()["code"] == "A"
            ws.write_hooks("C")  # fixed: the next reload serves it
            assert (await rt.reload(force=True))["outcome"] == "reloaded"
            assert (await rt.client.get(f"{ws.base}/which")).json()["code"] == "C"

    asyncio.run(scenario())


def test_a_broken_sibling_is_located_in_its_own_file(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            ws.write("tag.py", "TAG = 1 / 0\n")
            answer = await rt.reload(force=True)
            assert answer["outcome"] == "failed"
            assert answer["problems"][0].startswith(f"services/{ws.name}/tag.py:1: error: ")
            assert "ZeroDivisionError" in answer["problems"][0]
            assert (await rt.client.get(f"{ws.base}/which")).json() == {"code": "A",
                                                                        "tag": "t1"}

    asyncio.run(scenario())
