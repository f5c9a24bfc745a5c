"""Reloading a running service after its definition changed on disk: the new version serves
at once, what is not valid or not allowed changes nothing (real PostgreSQL and tansu)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.runtime.reload.workspace import Workspace, notes_yaml, running


def test_unchanged_definition_swaps_nothing_unless_forced(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            generation = rt.entry.switch.current
            answer = await rt.reload()
            assert answer["outcome"] == "unchanged"
            assert answer["swapped_at"] is None
            assert rt.entry.switch.current is generation
            forced = await rt.reload(force=True)
            assert forced["outcome"] == "reloaded"
            assert forced["version_before"] == forced["version_after"] == "1.0.0"
            assert rt.entry.switch.current is not generation
            assert (forced["consumers"], forced["relay"]) == ("none", "kept")

    asyncio.run(scenario())


def test_version_bump_is_what_health_reports_after_the_swap(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            health = f"{ws.base}/_lcdev/health"
            assert (await rt.client.get(health)).json()["version"] == "1.0.0"
            ws.write_service(notes_yaml(ws.name, version="1.0.1"))
            answer = await rt.reload()
            assert answer["outcome"] == "reloaded", answer["problems"] or answer
            assert (answer["version_before"], answer["version_after"]) == ("1.0.0", "1.0.1")
            assert answer["changes"] == []
            assert answer["problems"] == []
            assert set(answer["timings_ms"]) == {"load", "migrate", "build", "total"}
            assert answer["timings_ms"]["migrate"] == 0.0  # the entities did not change
            response = await rt.client.get(health)
            assert response.status_code == 200
            assert response.json()["version"] == "1.0.1"
            openapi = (await rt.client.get(f"{ws.base}/openapi.json")).json()
            assert openapi["info"]["version"] == "1.0.1"

    asyncio.run(scenario())


def test_added_field_is_accepted_and_returned_and_old_rows_still_read(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            notes = f"{ws.base}/notes"
            old = (await rt.client.post(notes, json={"text": "before"})).json()
            refused = await rt.client.post(notes, json={"text": "x", "mood": "glad"})
            assert refused.status_code == 422
            ws.write_service(notes_yaml(ws.name, version="1.1.0", fields="      mood: text"))
            answer = await rt.reload()
            assert answer["outcome"] == "reloaded", answer["problems"] or answer
            assert answer["changes"] == [f"add column {ws.name}.note.mood"]
            assert answer["timings_ms"]["migrate"] > 0
            created = await rt.client.post(notes, json={"text": "after", "mood": "glad"})
            assert created.status_code == 201, created.text
            assert created.json()["mood"] == "glad"
            read = (await rt.client.get(f"{notes}/{old['id']}")).json()
            assert read["text"] == "before"
            assert read["mood"] is None
            listed = (await rt.client.get(notes)).json()["items"]
            assert {n["text"]: n["mood"] for n in listed} == {"before": None, "after": "glad"}
            schema = (await rt.client.get(f"{ws.base}/openapi.json")).json()
            assert "mood" in schema["components"]["schemas"]["Note"]["properties"]

    asyncio.run(scenario())


def test_added_endpoint_is_served_after_the_reload(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    extra = ("  archive:\n    method: POST\n    path: /notes/{id}/archive\n    entity: Note\n"
             "    set: {text: archived}\n")

    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            note = (await rt.client.post(f"{ws.base}/notes", json={"text": "n"})).json()
            path = f"{ws.base}/notes/{note['id']}/archive"
            assert (await rt.client.post(path)).status_code == 404
            ws.write_service(notes_yaml(ws.name, version="1.1.0", endpoints=extra))
            answer = await rt.reload()
            assert answer["outcome"] == "reloaded", answer["problems"] or answer
            response = await rt.client.post(path)
            assert response.status_code == 200, response.text
            assert (response.json()["id"], response.json()["text"]) == (note["id"], "archived")
            paths = (await rt.client.get(f"{ws.base}/openapi.json")).json()["paths"]
            assert f"{ws.base}/notes/{{id}}/archive" in paths

    asyncio.run(scenario())


def test_invalid_definition_is_reported_at_its_position_and_the_old_one_keeps_serving(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            generation = rt.entry.switch.current
            broken = notes_yaml(ws.name, version="2.0.0", fields="      mood: txet")
            ws.write_service(broken)
            answer = await rt.reload(force=True)
            assert answer["outcome"] == "invalid"
            assert answer["version_after"] == "1.0.0"
            line = broken.splitlines().index("      mood: txet") + 1
            assert len(answer["problems"]) == 1
            assert answer["problems"][0].startswith(
                f"services/{ws.name}/service.yaml:{line}:13: error: "), answer["problems"]
            assert rt.entry.switch.current is generation
            health = (await rt.client.get(f"{ws.base}/_lcdev/health")).json()
            assert health["version"] == "1.0.0"
            created = await rt.client.post(f"{ws.base}/notes", json={"text": "still"})
            assert created.status_code == 201

    asyncio.run(scenario())


def test_destructive_edit_is_refused_until_allowed(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        ws = Workspace(tmp_path)
        ws.write_service(notes_yaml(ws.name, fields="      mood: text"))
        async with running(ws, pg_dsn, kafka_bootstrap) as rt:
            notes = f"{ws.base}/notes"
            kept = (await rt.client.post(notes, json={"text": "t", "mood": "calm"})).json()
            ws.write_service(notes_yaml(ws.name, version="2.0.0"))  # mood removed
            refused = await rt.reload()
            assert refused["outcome"] == "refused"
            assert refused["destructive"] == [
                f"would drop column {ws.name}.note.mood (1 row have values)"], refused
            assert refused["swapped_at"] is None
            assert refused["version_after"] == "2.0.0"
            read = (await rt.client.get(f"{notes}/{kept['id']}")).json()
            assert read["mood"] == "calm"  # still the old version, with its data
            allowed = await rt.reload(allow_destructive=True)
            assert allowed["outcome"] == "reloaded", allowed
            assert allowed["destructive"] == refused["destructive"]
            read = (await rt.client.get(f"{notes}/{kept['id']}")).json()
            assert "mood" not in read
            assert read["text"] == "t"

    asyncio.run(scenario())


def test_no_stale_prepared_statement_after_a_column_type_changes(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    """Widening ``text`` changes the type of a column every statement returns: a connection
    that prepared them before would fail each write once (InvalidCachedStatementError inside
    the transaction). The reload hands the new app fresh connections."""

    async def scenario() -> None:
        ws = Workspace(tmp_path)
        async with running(ws, pg_dsn, kafka_bootstrap, pool_max=4) as rt:
            notes = f"{ws.base}/notes"

            async def burst(text: str) -> list[int]:
                responses = await asyncio.gather(*(
                    rt.client.post(notes, json={"text": text}) for _ in range(12)))
                return [r.status_code for r in responses]

            assert await burst("short") == [201] * 12  # every pooled connection prepared
            widened = notes_yaml(ws.name, version="1.0.1").replace("string(20)", "string(40)")
            ws.write_service(widened)
            answer = await rt.reload()
            assert answer["outcome"] == "reloaded", answer["problems"] or answer
            assert answer["changes"] == [
                f"widen column {ws.name}.note.text from VARCHAR(20) to VARCHAR(40)"]
            assert await burst("a text longer than twenty") == [201] * 12

    asyncio.run(scenario())
