"""``watch_workspace``: saves in a real folder arrive as batches; lcdev's own writes and
editors' temporary files do not."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType

import pytest

from lcdev.supervisor.watch import ChangeBatch, is_ignored, watch_workspace

DEADLINE = 3.0  # seconds any one wait may take before the test fails


class Watching:
    """``watch_workspace`` running in a task, its batches in a queue."""

    def __init__(self, root: Path, **options: int) -> None:
        self.root = root
        self.options = options
        self.stop = asyncio.Event()
        self.batches: asyncio.Queue[ChangeBatch] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watching:
        self.task = asyncio.create_task(self._run())
        await self._ready()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        assert self.task is not None
        if not self.task.done():
            async with asyncio.timeout(DEADLINE):
                await self.task

    async def _run(self) -> None:
        async for batch in watch_workspace(self.root, self.stop, **self.options):
            self.batches.put_nowait(batch)

    async def _ready(self) -> None:
        """Write a probe at the root and in a folder until both are seen (both watchers run),
        then delete them and wait for that too, so a test starts with nothing pending."""
        probes = {self.root / "probe.txt", self.root / "services" / "probe.txt"}
        seen: set[Path] = set()
        async with asyncio.timeout(DEADLINE):
            while seen != probes:
                for probe in probes - seen:
                    probe.write_text(str(time.time()))
                try:
                    batch = await asyncio.wait_for(self.batches.get(), 0.1)
                    seen |= batch.paths & probes
                except TimeoutError:
                    pass
        for probe in probes:
            probe.unlink()
        deleted: set[Path] = set()
        while deleted != probes:
            deleted |= (await self.next()).paths & probes
        await asyncio.sleep(0.05)  # the last of a probe written twice
        while not self.batches.empty():
            self.batches.get_nowait()

    async def next(self) -> ChangeBatch:
        async with asyncio.timeout(DEADLINE):
            return await self.batches.get()


def _workspace(root: Path) -> Path:
    (root / "services" / "orders").mkdir(parents=True)
    (root / ".lcdev" / "telemetry").mkdir(parents=True)
    (root / "lcdev.yaml").write_text("name: shop\n")
    (root / "services" / "orders" / "service.yaml").write_text("name: orders\n")
    return root


def _run(scenario: Callable[[Path], Coroutine[None, None, None]], tmp_path: Path) -> None:
    asyncio.run(scenario(_workspace(tmp_path)))


def test_a_save_is_one_batch_with_its_mtime_as_saved_at(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        target = root / "services" / "orders" / "service.yaml"
        async with Watching(root) as watching:
            written = time.time()
            target.write_text("name: orders\nversion: 1.1.0\n")
            batch = await watching.next()
            assert batch.paths == {target}
            assert batch.saved_at == target.stat().st_mtime
            assert written - 0.05 <= batch.saved_at <= batch.detected_at <= time.time()
            assert batch.detected_at - written < 1.0

    _run(scenario, tmp_path)


def test_editor_temp_files_and_lcdev_writes_are_not_reported(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        folder = root / "services" / "orders"
        noise = [
            folder / ".service.yaml.swp", folder / "4913", folder / "service.yaml~",
            folder / ".#service.yaml", folder / "__pycache__" / "handlers.cpython-311.pyc",
            root / ".lcdev" / "telemetry" / "telemetry.db-wal", root / ".lcdev" / "run.json",
            root / ".git" / "index",
        ]
        async with Watching(root) as watching:
            for path in noise:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("x")
            await asyncio.sleep(0.05)  # their own batches, were they reported
            (folder / "service.yaml").write_text("name: orders\n# saved\n")
            batch = await watching.next()
            assert batch.paths == {folder / "service.yaml"}

    _run(scenario, tmp_path)


def test_a_write_storm_in_lcdev_neither_reports_nor_delays(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        target = root / "services" / "orders" / "service.yaml"
        storm_dir = root / ".lcdev" / "telemetry"
        calm = asyncio.Event()

        async def storm() -> None:  # ever new paths, as PostgreSQL and the store write
            for n in range(1500):
                if calm.is_set():
                    return
                (storm_dir / f"segment-{n}").write_bytes(os.urandom(64))
                await asyncio.sleep(0.001)

        # debounce_ms is long: were .lcdev watched, the storm's new paths would hold the batch
        # of the real save open until the storm ends.
        async with Watching(root, debounce_ms=5000) as watching:
            storming = asyncio.create_task(storm())
            await asyncio.sleep(0.05)
            target.write_text("name: orders\n# during the storm\n")
            batch = await watching.next()
            assert not storming.done(), "the save was only reported after the storm"
            calm.set()
            await storming
            assert batch.paths == {target}
            await asyncio.sleep(0.05)
            assert watching.batches.empty()

    _run(scenario, tmp_path)


def test_a_burst_of_writes_is_one_batch(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        folder = root / "services" / "orders"
        files = [folder / "service.yaml", *(folder / f"handlers_{n}.py" for n in range(4))]
        async with Watching(root) as watching:
            for path in files:
                path.write_text("# burst\n")
            newest = max(path.stat().st_mtime for path in files)
            batch = await watching.next()
            assert batch.paths == set(files)
            assert batch.saved_at == newest

    _run(scenario, tmp_path)


def test_a_new_folder_is_watched_and_its_files_reported(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        async with Watching(root) as watching:
            service = root / "apps" / "search" / "service.yaml"
            service.parent.mkdir(parents=True)
            service.write_text("name: search\n")
            batch = await watching.next()
            assert service in batch.paths
            # From now on a save in the new folder is seen like any other.
            await asyncio.sleep(0.05)
            while not watching.batches.empty():
                watching.batches.get_nowait()
            service.write_text("name: search\nversion: 1.1.0\n")
            assert (await watching.next()).paths == {service}
            # Removing it again restarts nothing that matters: saves elsewhere still arrive.
            shutil.rmtree(root / "apps")
            gone: set[Path] = set()
            while service not in gone:
                gone |= (await watching.next()).paths
            assert gone == {root / "apps", service.parent, service}
            orders = root / "services" / "orders" / "service.yaml"
            orders.write_text("name: orders\n# after apps/ went\n")
            assert (await watching.next()).paths == {orders}

    _run(scenario, tmp_path)


def test_files_written_into_a_new_nested_folder_at_once_are_reported(tmp_path: Path) -> None:
    """The recursive watch adds the new folder only once it sees it created; what was
    written into it before (a service folder created with its file) comes from the folder."""
    async def scenario(root: Path) -> None:
        async with Watching(root) as watching:
            for attempt in range(5):  # the race is not lost every time: try several folders
                service = root / "services" / f"coupons{attempt}" / "src" / "app" / "main.py"
                service.parent.mkdir(parents=True)
                service.write_text("print('hello')\n")
                seen: set[Path] = set()
                while service not in seen:
                    seen |= (await watching.next()).paths

    _run(scenario, tmp_path)


def test_a_folder_replaced_at_once_is_watched_anew(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        async with Watching(root) as watching:
            shutil.copytree(root / "services", root / "services.new")
            shutil.rmtree(root / "services")
            os.rename(root / "services.new", root / "services")  # as a checkout or rsync would
            target = root / "services" / "orders" / "service.yaml"
            seen: set[Path] = set()
            while target not in seen:
                seen |= (await watching.next()).paths
            await asyncio.sleep(0.05)
            while not watching.batches.empty():
                watching.batches.get_nowait()
            target.write_text("name: orders\n# in the new folder\n")
            assert (await watching.next()).paths == {target}

    _run(scenario, tmp_path)


def test_a_deletion_is_reported_and_saved_at_is_its_detection(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        target = root / "services" / "orders" / "service.yaml"
        async with Watching(root) as watching:
            target.unlink()
            batch = await watching.next()
            assert batch.paths == {target}
            assert batch.saved_at == batch.detected_at

    _run(scenario, tmp_path)


def test_an_old_mtime_does_not_date_the_save_before_the_watch(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        copied = root / "services" / "orders" / "copied.yaml"
        old = root / "services" / "orders" / "old.yaml"
        old.write_text("x")
        a_day_ago = time.time() - 86400
        os.utime(old, (a_day_ago, a_day_ago))
        async with Watching(root) as watching:
            started = time.time()
            os.rename(old, copied)  # keeps its mtime, as cp -p or tar would
            batch = await watching.next()
            assert copied in batch.paths
            assert copied.stat().st_mtime == a_day_ago
            assert started - 1.0 < batch.saved_at <= batch.detected_at

    _run(scenario, tmp_path)


def test_stop_ends_the_iteration_promptly(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        async with Watching(root) as watching:
            asked = time.monotonic()
            watching.stop.set()
            assert watching.task is not None
            await asyncio.wait_for(asyncio.shield(watching.task), 0.5)
            assert time.monotonic() - asked < 0.5

    _run(scenario, tmp_path)


def test_cancelling_the_reader_ends_the_watch_without_setting_stop(tmp_path: Path) -> None:
    async def scenario(root: Path) -> None:
        stop = asyncio.Event()
        watching = Watching(root)
        watching.stop = stop
        async with watching:
            assert watching.task is not None
            watching.task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(watching.task, 0.5)
            assert not stop.is_set()

    _run(scenario, tmp_path)


@pytest.mark.parametrize(
    ("relative", "ignored"),
    [
        ("services/orders/service.yaml", False),
        ("services/orders/handlers.py", False),
        ("lcdev.yaml", False),
        ("stacks/default.yaml", False),
        (".lcdev/telemetry/telemetry.db", True),
        (".lcdev", True),
        (".git/index", True),
        ("services/orders/.venv/lib/x.py", True),
        ("services/orders/node_modules/a/index.js", True),
        ("services/orders/__pycache__/handlers.cpython-311.pyc", True),
        ("services/orders/.mypy_cache/x.json", True),
        ("services/orders/.pytest_cache/v/x", True),
        ("services/orders/.service.yaml.swp", True),
        ("services/orders/.service.yaml.swx", True),
        ("services/orders/.service.yaml.swo", True),
        ("services/orders/service.yaml~", True),
        ("services/orders/.#service.yaml", True),
        ("services/orders/#service.yaml#", True),
        ("services/orders/4913", True),
        ("services/orders/49130", False),
        ("services/orders/service.yaml.tmp", True),
        ("services/orders/service.yaml.kate-swp", True),
        ("services/orders/service.yaml___jb_tmp___", True),
        ("services/orders/service.yaml___jb_old___", True),
        ("services/orders/.~lock.notes.odt#", True),
    ],
)
def test_is_ignored(relative: str, ignored: bool) -> None:
    root = Path("/work/shop")
    assert is_ignored(root / relative, root) is ignored


def test_ignored_folders_count_only_below_the_root() -> None:
    root = Path("/home/me/.venv/shop")
    assert not is_ignored(root / "services" / "orders" / "service.yaml", root)
    assert is_ignored(root / ".venv" / "x.py", root)
