"""Saved files of a workspace, as batches: the first step of hot reload.

``watch_workspace`` wraps ``watchfiles.awatch`` (inotify through the Rust notify crate). With
``step_ms=10`` a save is reported ~20 ms after the write: watchfiles waits until a step passes
with no new changed path, and ``debounce_ms`` only caps how long a burst of writes can keep
one batch open. Each batch carries ``saved_at``, the moment of the save taken from the files'
mtimes, so every duration hot reload reports starts at the save, not at its detection.

What lcdev writes itself (``.lcdev/``: the telemetry store, run files, PostgreSQL's data) and
what editors and tools write beside the real files (swap files, backups, caches) never reach
the caller. ``.lcdev/`` and ``.git/`` are not even watched: watchfiles filters only after a
batch is complete, and a batch stays open while new paths keep changing, so PostgreSQL writing
its files during a reload would hold back the next save by up to ``debounce_ms`` (measured:
a 19 ms median became 131 ms). Hence one watcher of the root alone, and one of its folders
recursively. A folder that appears at the root later gets a watcher of its own, so the
others are never restarted (which would lose what they had not reported yet).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

__all__ = ["IGNORED_DIRS", "ChangeBatch", "is_ignored", "watch_workspace"]

IGNORED_DIRS = frozenset({
    ".lcdev", ".git", "__pycache__", ".venv", "node_modules", ".mypy_cache", ".pytest_cache",
    # Beyond docs/reload-internals.md: other tools' caches and VCS/IDE state, never definitions.
    ".ruff_cache", ".tox", ".hypothesis", ".hg", ".svn", ".idea",
})
"""Folders ignored wherever they are below the root."""

_EDITOR_TEMP = re.compile(
    r"\.sw.$"                  # vim swap files: .swp, .swo, .swx (its write test), ...
    r"|~$"                     # backups: service.yaml~
    r"|^\.#|^#.*#$"            # emacs lock and auto-save files
    r"|^4913$"                 # vim's "can I write here" probe file
    r"|\.tmp$|\.kate-swp$"     # generic temporaries, Kate
    r"|___jb_(tmp|old)___$"    # JetBrains safe write
    r"|^\.~lock\."             # LibreOffice locks
)


@dataclass(frozen=True)
class ChangeBatch:
    """Paths changed together (created, modified or deleted), and when.

    ``saved_at`` is the newest mtime among the paths that still exist, kept between the start
    of watching or the previous batch's detection less one debounce period, and
    ``detected_at``: a file copied or moved with its old mtime (cp -p, tar) was still saved
    after that, and a clock ahead of now cannot make a save happen later than its detection.
    It is ``detected_at`` when no path exists any more. Mtimes come from the kernel's coarse
    clock (a few ms behind), so durations measured from ``saved_at`` err on the long side."""

    paths: frozenset[Path]
    saved_at: float
    detected_at: float


def is_ignored(path: Path, root: Path) -> bool:
    """Whether a change at ``path`` is noise: below an ignored folder (looked for below
    ``root`` only, so a workspace inside e.g. ``~/.venv/`` still works), or an editor's or a
    tool's temporary file."""
    parts = path.relative_to(root).parts if path.is_relative_to(root) else path.parts
    return bool(parts) and (
        any(part in IGNORED_DIRS for part in parts) or _EDITOR_TEMP.search(parts[-1]) is not None
    )


async def watch_workspace(
    root: Path, stop: asyncio.Event, *, step_ms: int = 10, debounce_ms: int = 400
) -> AsyncIterator[ChangeBatch]:
    """Yield a :class:`ChangeBatch` for every group of saves below ``root`` until ``stop`` is
    set (noticed within ``step_ms``). Paths are absolute, as below ``root.absolute()``.

    Cancelling the task that iterates ends the watchers too, and never sets ``stop``."""
    root = root.absolute()
    queue: asyncio.Queue[set[tuple[Change, str]] | None] = asyncio.Queue()

    def feed(paths: Iterable[Path], *, recursive: bool) -> _Feed:
        return _Feed(queue, root, list(paths), stop, recursive=recursive, step_ms=step_ms,
                     debounce_ms=debounce_ms)

    top = feed([root], recursive=False)
    folders = _folders(root)
    deep: dict[_Feed, set[Path]] = {feed(folders, recursive=True): set(folders)} if folders else {}
    retired: list[_Feed] = []
    floor = time.time()
    try:
        while (raw := await queue.get()) is not None:
            while not queue.empty():  # what the watchers saw meanwhile is one batch
                more = queue.get_nowait()
                if more is None:
                    queue.put_nowait(None)
                    break
                raw |= more
            detected_at = time.time()
            paths = {Path(path) for _, path in raw}
            if (now := _folders(root)) != folders:
                for watcher, watched in list(deep.items()):
                    watched &= {f for f in now if folders.get(f) == now[f]}
                    if not watched:  # all its folders are gone; let it report what it has
                        watcher.retire(after=(debounce_ms + 2 * step_ms) / 1000)
                        retired.append(watcher)
                        del deep[watcher]
                added = {f for f in now if folders.get(f) != now[f]}  # new, or replaced
                if added:
                    deep[feed(sorted(added), recursive=True)] = added
                    # What was written into them before they were watched is part of this batch.
                    paths |= {path for folder in added for path in _walk(folder, root)}
                folders = now
            # A folder created below a watched one (services/new/) is watched from the moment
            # its creation is seen; files written into it before that are never reported on
            # their own, so they are taken from the folder itself.
            paths |= {found for change, path in raw if change == Change.added
                      and os.path.isdir(path) for found in _walk(Path(path), root)}
            batch = frozenset(paths)
            saved_at = min(max(_newest_mtime(batch, detected_at), floor), detected_at)
            yield ChangeBatch(paths=batch, saved_at=saved_at, detected_at=detected_at)
            # Every change still to come is in a watchfiles batch that closed after this one
            # was taken, so it happened at most one debounce period (and a step) before.
            floor = detected_at - (debounce_ms + 2 * step_ms) / 1000
        # A watcher ended by itself: stop was set, or it failed (raised here).
        for watcher in (top, *deep):
            await watcher.close()
    finally:
        for watcher in (top, *deep, *retired):
            await watcher.close(quiet=True)


class _Feed:
    """One ``awatch`` over ``paths`` in a task, putting each filtered batch (a set of path
    strings) on ``queue``, and None when it ends unless it was closed: the end of the
    iteration, whether ``stop`` was set or the watcher failed."""

    def __init__(
        self, queue: asyncio.Queue[set[tuple[Change, str]] | None], root: Path, paths: list[Path],
        stop: asyncio.Event, *, recursive: bool, step_ms: int, debounce_ms: int,
    ) -> None:
        self._stop = _StopSignal(stop)
        self._retiring: asyncio.TimerHandle | None = None
        changes = awatch(
            *paths, watch_filter=_WorkspaceFilter(root), step=step_ms, debounce=debounce_ms,
            stop_event=self._stop, recursive=recursive,
        )
        self._task = asyncio.create_task(self._run(changes, queue))

    async def _run(
        self, changes: AsyncIterator[set[tuple[Change, str]]],
        queue: asyncio.Queue[set[tuple[Change, str]] | None],
    ) -> None:
        try:
            async for batch in changes:
                queue.put_nowait(set(batch))
        finally:
            if not self._stop.closed:
                queue.put_nowait(None)

    def retire(self, *, after: float) -> None:
        """Stop watching ``after`` seconds from now, once what it saw has been reported; its
        end is not the end of the iteration."""
        self._retiring = asyncio.get_running_loop().call_later(after, self._stop.close)

    async def close(self, *, quiet: bool = False) -> None:
        """Stop watching (within one step) and wait for it; raise what the watcher raised
        unless ``quiet``."""
        if self._retiring is not None:
            self._retiring.cancel()
        self._stop.close()
        await asyncio.wait([self._task])
        error = None if self._task.cancelled() else self._task.exception()
        if error is not None and not quiet:
            raise error


class _WorkspaceFilter:
    """``watch_filter`` for watchfiles: keep what :func:`is_ignored` does not ignore."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def __call__(self, change: Change, path: str) -> bool:
        return not is_ignored(Path(path), self._root)


class _StopSignal(asyncio.Event):
    """Set when the caller's ``stop`` is, or on its own: awatch sets the event it was given
    when its task is cancelled, and that must not stop whatever else ``stop`` stops."""

    def __init__(self, outer: asyncio.Event) -> None:
        super().__init__()
        self._outer = outer
        self.closed = False

    def close(self) -> None:
        """Stop this watcher only, deliberately."""
        self.closed = True
        self.set()

    def is_set(self) -> bool:
        return super().is_set() or self._outer.is_set()


def _folders(root: Path) -> dict[Path, tuple[int, int]]:
    """The folders directly in ``root`` that are watched (recursively), with their identity
    (device, inode): a folder removed and made again needs watching anew."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return {}
    found: dict[Path, tuple[int, int]] = {}
    for entry in entries:
        path = Path(entry.path)
        try:
            if entry.is_dir() and not is_ignored(path, root):
                info = entry.stat()
                found[path] = (info.st_dev, info.st_ino)
        except OSError:  # gone meanwhile
            continue
    return found


def _walk(folder: Path, root: Path) -> set[Path]:
    """``folder`` and everything below it that is not ignored."""
    found = {folder}
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not is_ignored(Path(parent, d), root)]
        found |= {Path(parent, name) for name in (*dirs, *files)
                  if not is_ignored(Path(parent, name), root)}
    return found


def _newest_mtime(paths: frozenset[Path], default: float) -> float:
    newest: float | None = None
    for path in paths:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:  # deleted (or replaced) since: it says nothing about when
            continue
        newest = mtime if newest is None else max(newest, mtime)
    return default if newest is None else newest
