"""``Reloader`` on the ``InMemoryBackend``: saved files become swaps, restarts, starts and stops,
reported as events and in the history file (see ``reloadstack``)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from lcdev.backends.errors import BackendError
from lcdev.core.events import (
    Event,
    ReloadFailed,
    ReloadStarted,
    ServiceReloaded,
    WorkspaceReloaded,
)
from lcdev.definitions import load_workspace
from lcdev.supervisor.hot_reload import HotReload
from lcdev.supervisor.ports import free_port
from lcdev.supervisor.service_reload import (
    InMemoryServiceReloadClient,
    ReloadAnswer,
)
from tests.unit.memstack import of, run, until
from tests.unit.reloadstack import PRODUCER, batch, reload_stack, write

BROKEN = PRODUCER.replace("title: string(80)!", "title: strin(80)!")
WITH_NOTE = PRODUCER.replace("title: string(80)!", "title: string(80)!\n      note: text")


def test_an_invalid_edit_reports_every_problem_and_touches_nothing(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[Event], list[str], int]:
        async with reload_stack(tmp_path) as stack:
            before = stack.reloader.view.services["producer"]
            events = await stack.save("services/producer/service.yaml", BROKEN)
            assert stack.reloader.view.services["producer"] is before
            return events, [c.name for c in stack.client.calls], len(stack.history())

    events, calls, history = run(scenario)
    assert [type(e).__name__ for e in events] == ["ReloadStarted", "ReloadFailed"]
    assert of(ReloadStarted, events)[0].services == ["producer"]
    failed = of(ReloadFailed, events)[0]
    assert failed.name == "producer"
    assert failed.reason == "invalid"
    assert failed.paths == ["services/producer/service.yaml"]
    assert failed.problems
    assert all(
        p.startswith("services/producer/service.yaml:6:14: ") for p in failed.problems)
    assert "strin" in failed.problems[0]
    assert calls == []      # no service was asked to reload
    assert history == 1     # the failure is in the history file


def test_producers_reload_before_their_consumers_independent_ones_together(
        tmp_path: Path) -> None:
    client = InMemoryServiceReloadClient(delay_s=0.05)

    async def scenario() -> list[Event]:
        async with reload_stack(tmp_path, client) as stack:
            producer = write(tmp_path, "services/producer/service.yaml", WITH_NOTE)
            loner = write(tmp_path, "services/loner/service.yaml",
                          (tmp_path / "services/loner/service.yaml").read_text()
                          .replace("1.0.0", "1.1.0"))
            return await stack.reloader.handle(batch(producer, loner))

    events = run(scenario)
    calls = {c.name: c for c in client.calls}
    assert set(calls) == {"producer", "consumer", "loner"}
    assert calls["consumer"].started >= calls["producer"].ended   # producer first
    assert calls["loner"].started < calls["producer"].ended       # same wave: together
    assert calls["consumer"].force
    assert not calls["producer"].force
    reloaded = {e.name: e for e in of(ServiceReloaded, events)}
    assert set(reloaded) == {"producer", "consumer", "loner"}
    assert reloaded["producer"].how == "swapped"
    assert "+ field Item.note" in reloaded["producer"].changes
    assert reloaded["consumer"].changes == ["consumes ItemAdded of producer"]
    assert reloaded["loner"].version_before == "1.0.0"
    assert reloaded["loner"].version_after == "1.1.0"
    timings = reloaded["producer"].timings_ms
    assert {"detect", "validate", "total"} <= set(timings)
    assert 0 < reloaded["producer"].seconds < 5
    assert reloaded["producer"].paths == ["services/producer/service.yaml"]


def test_a_refused_change_keeps_the_old_definition_and_says_how_to_allow_it(
        tmp_path: Path) -> None:
    def refuse_unless_allowed(name: str, allow: bool, force: bool) -> ReloadAnswer:
        if allow:
            return ReloadAnswer("reloaded", swapped_at=None)
        return ReloadAnswer("refused", destructive=["drop column item.title"],
                            message="producer: dropping column item.title loses data")

    client = InMemoryServiceReloadClient({"producer": refuse_unless_allowed})

    async def scenario() -> tuple[list[Event], list[Event], list[Event], bool, bool]:
        async with reload_stack(tmp_path, client) as stack:
            old = stack.reloader.view.services["producer"]
            dropped = PRODUCER.replace("title: string(80)!", "name: string(80)!")
            refused = await stack.save("services/producer/service.yaml", dropped)
            kept = stack.reloader.view.services["producer"] is old
            # an unrelated save elsewhere does not retry it
            other = await stack.save("services/loner/notes.md", "x\n")
            applied = await stack.reloader.reload_now([], allow_destructive=True)
            now_new = "name" in stack.reloader.view.services["producer"].entities["Item"].fields
            return refused, other, applied, kept, now_new

    refused, other, applied, kept, now_new = run(scenario)
    failed = of(ReloadFailed, refused)
    assert [(f.name, f.reason) for f in failed] == [("producer", "destructive")]
    assert failed[0].problems == ["drop column item.title"]
    assert failed[0].hint == "lcdev apply --allow-destructive producer"
    assert kept
    assert other == []  # a save that changes nothing that runs reports nothing
    # the bare `lcdev apply` retries what did not happen, allowed this time
    assert [(e.name, e.how) for e in of(ServiceReloaded, applied)][0] == ("producer", "swapped")
    assert now_new
    assert [c.allow_destructive for c in client.calls if c.name == "producer"] == [False, True]


def test_a_new_folder_starts_a_service_and_a_removed_one_stops(tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        async with reload_stack(tmp_path) as stack:
            started = await stack.save(
                "services/fresh/service.yaml",
                "name: fresh\nversion: 0.1.0\nentities:\n  Thing:\n    fields:\n"
                "      label: string(20)\n")
            after_start = (stack.upstreams(), stack.gateway_config()["generation"],
                           list(stack.backend.reloaded))
            folder = tmp_path / "services" / "loner"
            gone = folder / "service.yaml"
            gone.unlink()
            folder.rmdir()
            stopped = await stack.reloader.handle(batch(gone))
            return {"started": started, "after_start": after_start, "stopped": stopped,
                    "upstreams": stack.upstreams(),
                    "generation": stack.gateway_config()["generation"],
                    "runtimes": set(stack.supervisor.runtimes),
                    "view": set(stack.reloader.view.services),
                    "stops": list(stack.backend.stopped), "history": stack.history()}

    seen = run(scenario)
    start = of(ServiceReloaded, seen["started"])  # type: ignore[arg-type]
    assert [(e.name, e.how, e.version_after) for e in start] == [("fresh", "started", "0.1.0")]
    upstreams, generation, reloaded = seen["after_start"]  # type: ignore[misc]
    assert "fresh" in upstreams
    assert generation == 1
    assert reloaded == ["gateway"]
    stop = of(ServiceReloaded, seen["stopped"])  # type: ignore[arg-type]
    assert [(e.name, e.how) for e in stop] == [("loner", "stopped")]
    assert "loner" not in seen["upstreams"]  # type: ignore[operator]
    assert seen["generation"] == 2
    assert "loner" not in seen["runtimes"]
    assert "fresh" in seen["runtimes"]
    assert "loner" not in seen["view"]  # type: ignore[operator]
    assert seen["stops"] == ["loner"]
    assert [(h["type"], h["name"], h["how"]) for h in seen["history"]] == [  # type: ignore[attr-defined]
        ("ServiceReloaded", "fresh", "started"), ("ServiceReloaded", "loner", "stopped")]


def test_a_code_service_restarts_new_instance_first(tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        async with reload_stack(tmp_path) as stack:
            before = stack.supervisor.runtimes["hello"].component.port
            old_instance = stack.backend.running("hello")
            events = await stack.save("services/hello/app.py", "print('v2')\n")
            runtime = stack.supervisor.runtimes["hello"]
            return {"events": events, "before": before, "after": runtime.component.port,
                    "upstream": stack.upstreams()["hello"],
                    "old_exited": old_instance is not None and old_instance.exited(),
                    "launches": stack.backend.launches["hello"],
                    "env": runtime.component.env, "state": str(runtime.state),
                    "lines": [e.text for e in stack.supervisor.bus.log_tail("hello")]}

    seen = run(scenario)
    restarted = of(ServiceReloaded, seen["events"])  # type: ignore[arg-type]
    assert [(e.name, e.how) for e in restarted] == [("hello", "restarted")]
    assert restarted[0].changes == ["source changed"]
    assert restarted[0].paths == ["services/hello/app.py"]
    assert {"start", "gateway", "total"} <= set(restarted[0].timings_ms)
    assert seen["after"] != seen["before"]  # a new port: blue/green
    assert seen["upstream"] == f"http://127.0.0.1:{seen['after']}"
    assert seen["old_exited"]
    assert seen["launches"] == 2
    lines: list[str] = seen["lines"]  # type: ignore[assignment]
    new_listening = lines.index(f"hello: listening on 127.0.0.1:{seen['after']}")
    assert new_listening < lines.index("hello: stopped (exit 0)")  # new one first
    assert seen["state"] == "healthy"
    assert seen["env"]["FROM"] == "test"  # type: ignore[index]


def test_lcdev_yaml_applies_secrets_and_says_what_needs_up(tmp_path: Path) -> None:
    async def scenario() -> list[Event]:
        async with reload_stack(tmp_path) as stack:
            text = (tmp_path / "lcdev.yaml").read_text()
            events = await stack.save("lcdev.yaml", text.replace(
                "gateway: {port: 0}", "gateway: {port: 8899}").replace('"hi"', '"hello"'))
            env = stack.supervisor.runtimes["hello"].component.env
            assert env["GREETING"] == "hello"
            return events

    events = run(scenario)
    workspace = of(WorkspaceReloaded, events)
    assert len(workspace) == 1
    assert any("secrets" in line for line in workspace[0].applied)
    assert workspace[0].needs_up == ["gateway.port 0 → 8899 needs `lcdev up` again"]
    restarted = of(ServiceReloaded, events)
    assert [(e.name, e.how, e.changes) for e in restarted] == [
        ("hello", "restarted", ["secret greeting changed"])]


def test_a_crash_inside_a_reload_is_reported_and_the_reloader_goes_on(tmp_path: Path) -> None:
    def explode(name: str, allow: bool, force: bool) -> ReloadAnswer:
        raise RuntimeError("the service's answer could not be read")

    client = InMemoryServiceReloadClient({"loner": explode})

    async def scenario() -> tuple[list[Event], list[Event]]:
        async with reload_stack(tmp_path, client) as stack:
            text = (tmp_path / "services/loner/service.yaml").read_text()
            crashed = await stack.save("services/loner/service.yaml",
                                       text.replace("1.0.0", "1.1.0"))
            later = await stack.save("services/producer/service.yaml", WITH_NOTE)
            return crashed, later

    crashed, later = run(scenario)
    failed = of(ReloadFailed, crashed)
    assert [(f.name, f.reason) for f in failed] == [("loner", "failed")]
    assert "could not be read" in failed[0].message
    assert {e.name for e in of(ServiceReloaded, later)} == {"producer", "consumer"}


def test_batches_arriving_during_a_reload_merge_into_the_next(tmp_path: Path) -> None:
    client = InMemoryServiceReloadClient(delay_s=0.2)

    async def scenario() -> list[list[str]]:
        async with reload_stack(tmp_path, client) as stack:
            text = (tmp_path / "services/loner/service.yaml").read_text()
            queue: asyncio.Queue[object] = asyncio.Queue()

            async def batches():  # type: ignore[no-untyped-def]
                while (item := await queue.get()) is not None:
                    yield item

            runner = asyncio.create_task(stack.reloader.run(batches()))
            await queue.put(batch(write(tmp_path, "services/loner/service.yaml",
                                        text.replace("1.0.0", "1.1.0"))))
            await asyncio.sleep(0.05)  # the first reload is waiting for the service now
            for version in ("1.2.0", "1.3.0"):
                await queue.put(batch(write(tmp_path, "services/loner/service.yaml",
                                            text.replace("1.0.0", version))))
            await queue.put(batch(write(tmp_path, "services/producer/service.yaml",
                                        WITH_NOTE)))
            while len(of(ServiceReloaded, stack.supervisor.bus.history())) < 4:
                await asyncio.sleep(0.02)
            await queue.put(None)
            await runner
            return [e.paths for e in of(ReloadStarted, stack.supervisor.bus.history())]

    started = run(scenario)
    assert started == [
        ["services/loner/service.yaml"],
        ["services/loner/service.yaml", "services/producer/service.yaml"],  # one merged reload
    ]
    assert [c.name for c in client.calls][:1] == ["loner"]
    assert sorted(c.name for c in client.calls[1:]) == ["consumer", "loner", "producer"]


def test_a_code_service_that_fails_to_start_leaves_the_old_one_serving(tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        async with reload_stack(tmp_path) as stack:
            old_port = stack.supervisor.runtimes["hello"].component.port
            old_upstream = stack.upstreams()["hello"]
            stack.backend.fail_prepare["hello"] = BackendError("python: not found",
                                                               hint="install python")
            events = await stack.save("services/hello/app.py", "print('v2')\n")
            instance = stack.backend.running("hello")
            return {"events": events, "old_port": old_port,
                    "port": stack.supervisor.runtimes["hello"].component.port,
                    "upstream": stack.upstreams()["hello"], "old_upstream": old_upstream,
                    "running": instance is not None and instance.listening,
                    "pending": dict(stack.reloader.pending)}

    seen = run(scenario)
    failed = of(ReloadFailed, seen["events"])  # type: ignore[arg-type]
    assert [(f.name, f.reason, f.hint) for f in failed] == [("hello", "failed", "install python")]
    assert "python: not found" in failed[0].message
    assert not of(ServiceReloaded, seen["events"])  # type: ignore[arg-type]
    assert seen["port"] == seen["old_port"]
    assert seen["upstream"] == seen["old_upstream"]
    assert seen["running"] is True
    assert seen["pending"] == {"hello": {"services/hello/app.py"}}


def test_a_code_service_on_a_fixed_port_stops_before_it_starts_again(tmp_path: Path) -> None:
    port = free_port()

    async def scenario() -> dict[str, object]:
        async with reload_stack(tmp_path) as stack:
            text = (tmp_path / "services/hello/service.yaml").read_text()
            first = await stack.save("services/hello/service.yaml",
                                     text.replace("  watch:", f"  port: {port}\n  watch:"))
            moved_to = stack.supervisor.runtimes["hello"].component.port
            stops_before = stack.backend.stopped.count("hello")
            second = await stack.save("services/hello/app.py", "print('v3')\n")
            return {"first": first, "second": second, "moved_to": moved_to,
                    "port": stack.supervisor.runtimes["hello"].component.port,
                    "stops": stack.backend.stopped.count("hello") - stops_before,
                    "launches": stack.backend.launches["hello"]}

    seen = run(scenario)
    first = of(ServiceReloaded, seen["first"])  # type: ignore[arg-type]
    assert [(e.name, e.how) for e in first] == [("hello", "restarted")]
    assert "~ process port none → " + str(port) in first[0].changes
    assert seen["moved_to"] == seen["port"] == port
    second = of(ServiceReloaded, seen["second"])  # type: ignore[arg-type]
    # restarted on the same port: only possible because the old instance stopped first
    assert [(e.name, e.how) for e in second] == [("hello", "restarted")]
    assert seen["stops"] == 1
    assert seen["launches"] == 3


def test_hot_reload_watches_the_workspace_until_it_ends(tmp_path: Path) -> None:
    async def scenario() -> dict[str, object]:
        async with reload_stack(tmp_path) as stack:
            hot = HotReload(stack.supervisor, token="t", watch=True, allow_destructive=(),
                            env_for=lambda component: {})
            loaded = load_workspace(tmp_path)
            hot.start_watching(tmp_path)
            assert await hot.reload_now([], allow_destructive=False) is None  # not begun
            hot.begin(loaded)
            for attempt in range(20):  # saved again until the watcher (setting up) sees it
                write(tmp_path, "services/hello/app.py", f"print({attempt})\n")
                with contextlib.suppress(AssertionError):
                    await until(lambda: bool(of(ServiceReloaded,
                                                stack.supervisor.bus.history())), 0.3)
                    break
            status = hot.status()
            await hot.end()
            return {"status": status, "after": hot.status(),
                    "events": of(ServiceReloaded, stack.supervisor.bus.history()),
                    "view": hot.services(loaded) is hot.reloader.view.services  # type: ignore[union-attr]
                    }

    seen = run(scenario)
    assert [(e.name, e.how) for e in seen["events"]][:1] == [  # type: ignore[attr-defined]
        ("hello", "restarted")]
    assert seen["status"] == {"watching": True, "pending": []}
    assert seen["after"] == {"watching": False, "pending": []}
    assert seen["view"] is True
