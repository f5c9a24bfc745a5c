"""The stack the contract checks talk to: an ephemeral copy of the workspace's, or the running one.

``ephemeral_target`` copies the workspace (without ``.lcdev/`` and ``.git/``) into a temporary
folder, sets every port of the copy's ``lcdev.yaml`` to 0 so it never collides with the user's
own stack, starts it with ``lcdev up -d --no-watch`` and always stops it with ``lcdev down -v``
and removes the copy. The stack is driven through the ``lcdev`` command in a subprocess (the
same code path a user's ``lcdev up`` takes) because ``lcdev.contracts`` may not import the
supervisor (see the import layers in pyproject.toml).

The teardown runs whatever happened, Ctrl-C included, and ignores a second Ctrl-C until it is
done (an interrupted teardown would leave processes on ports nobody knows). With
``keep_telemetry`` the copy's telemetry store outlives it: the stack is stopped first (so the
store has every span), the store is copied into the workspace's ``.lcdev/test-runs/<time>/``
(the last :data:`KEPT_RUNS` runs are kept) and only then is the data removed, so the traces
of a failure can still be read after the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lcdev.definitions import LoadedWorkspace, load_workspace

__all__ = [
    "ContractTarget",
    "StackNotAvailable",
    "KEPT_RUNS",
    "StackTimings",
    "development_token",
    "ephemeral_target",
    "running_target",
    "kept_runs_dir",
]

_NOT_COPIED = frozenset({".lcdev", ".git", "__pycache__", ".mypy_cache", ".pytest_cache"})
_UP_TIMEOUT = 180.0
_DOWN_TIMEOUT = 60.0
KEPT_RUNS = 5
"""How many ephemeral runs' telemetry stores ``.lcdev/test-runs/`` keeps (the newest)."""


@dataclass(frozen=True)
class ContractTarget:
    """Where the checks find the stack: URLs of the gateway, PostgreSQL, Kafka and services."""

    root: Path                 # the workspace (the copy, for an ephemeral stack)
    loaded: LoadedWorkspace
    gateway_url: str           # http://127.0.0.1:PORT
    token: str | None          # a development JWT from the workspace secrets (as `lcdev token`)
    dsn: str                   # postgresql://lcdev@127.0.0.1:PORT/lcdev
    bootstrap: str             # 127.0.0.1:PORT (Kafka)
    services: dict[str, str]   # low-code service name -> its own URL (http://127.0.0.1:PORT)


class StackNotAvailable(RuntimeError):
    """The stack could not be started (or, with ``--running``, is not running): nothing can
    be checked against it. ``hint`` says what to do; ``output`` is what ``lcdev up`` said."""

    def __init__(self, message: str, hint: str = "", output: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.output = output


@dataclass
class StackTimings:
    """How long starting and stopping the ephemeral stack took (seconds), for the report."""

    up: float = 0.0
    down: float = 0.0
    telemetry: Path | None = None
    """Where the ephemeral stack's telemetry store was kept (``keep_telemetry``), if it was."""


def _lcdev(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "LCDEV_WORKSPACE"}
    return subprocess.run(
        [sys.executable, "-m", "lcdev", *args], capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL, env={**env, "NO_COLOR": "1"},
    )


@contextlib.contextmanager
def ephemeral_target(
    root: Path, backend: str = "auto", *, timings: StackTimings | None = None,
    on_progress: Callable[[str], None] | None = None, keep_telemetry: bool = False,
) -> Iterator[ContractTarget]:
    """A fresh stack for a copy of the workspace at ``root``, on free ports; stopped with its
    data and the copy removed on exit, whatever happened inside (Ctrl-C included). Raises
    ``StackNotAvailable`` when it does not start. With ``keep_telemetry``, the copy's
    telemetry store is kept under ``kept_runs_dir(root)`` first (``timings.telemetry``)."""
    say = on_progress or (lambda _message: None)
    timings = timings if timings is not None else StackTimings()
    parent = Path(tempfile.mkdtemp(prefix="lcdev-test-"))
    # PostgreSQL runs as an unprivileged user when lcdev runs as root: it must enter the copy.
    parent.chmod(0o755)
    copy = parent / root.name
    started = time.monotonic()
    try:
        shutil.copytree(root, copy, ignore=lambda _dir, names: [
            name for name in names if name in _NOT_COPIED], symlinks=True)
        copy.chmod(0o755)
        free_every_port(copy / "lcdev.yaml")
        say(f"starting an ephemeral {root.name} stack ({backend} backend)")
        _start(copy, backend)
        target = _target_from_status(copy, _status(copy))
        timings.up = time.monotonic() - started
        yield target
    finally:
        with _second_ctrl_c_ignored():
            stopping = time.monotonic()
            say("stopping the ephemeral stack")
            _stop(copy, root if keep_telemetry else None, timings)
            shutil.rmtree(parent, ignore_errors=True)
            timings.down = time.monotonic() - stopping


@contextlib.contextmanager
def _second_ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored meanwhile (in the ``lcdev down`` children too: an ignored signal stays
    ignored across exec); only the main thread may change signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop(copy: Path, keep_in: Path | None, timings: StackTimings) -> None:
    """``lcdev down -v`` of the copy; with ``keep_in`` (the user's workspace), ``lcdev down``
    first and the telemetry store kept before the data goes."""
    if keep_in is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            _lcdev("down", "-w", str(copy), timeout=_DOWN_TIMEOUT)
        timings.telemetry = keep_telemetry_store(copy, keep_in)
    with contextlib.suppress(subprocess.TimeoutExpired):
        _lcdev("down", "-v", "-w", str(copy), timeout=_DOWN_TIMEOUT)


def kept_runs_dir(root: Path) -> Path:
    """Where ``lcdev test`` keeps the telemetry of its ephemeral runs: ``.lcdev/test-runs``."""
    from lcdev.core.layout import WorkspaceLayout

    return WorkspaceLayout(root).state_dir / "test-runs"


def keep_telemetry_store(copy: Path, root: Path, keep: int = KEPT_RUNS) -> Path | None:
    """Copy the stopped copy's telemetry store to ``<root>/.lcdev/test-runs/<time>/
    telemetry.db`` and drop all but the ``keep`` newest runs; the path, or None when the copy
    has no store (or it could not be read: the run's result matters more than its traces).
    SQLite's backup copies a consistent database, write-ahead log included."""
    from lcdev.core.layout import WorkspaceLayout

    source = WorkspaceLayout(copy).telemetry_db
    if not source.is_file():
        return None
    runs = kept_runs_dir(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # after the newest run of the same second (its oldest may be pruned), so names sort
    same = [_run_order(d)[1] for d in runs.glob(f"{stamp}*")] if runs.is_dir() else []
    target = runs / (f"{stamp}-{max(same) + 1}" if same else stamp)
    try:
        target.mkdir(parents=True)
        kept = target / "telemetry.db"
        with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                contextlib.closing(sqlite3.connect(kept)) as dst:
            src.backup(dst)
    except (OSError, sqlite3.Error):
        shutil.rmtree(target, ignore_errors=True)
        return None
    for old in sorted((d for d in runs.iterdir() if d.is_dir()), key=_run_order)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return kept


def _run_order(folder: Path) -> tuple[str, int]:
    """Oldest first: by the time in the name (``20261122-203015``), then by the ``-2`` suffix
    of another run in the same second."""
    stamp, suffix = folder.name[:15], folder.name[16:]
    return stamp, int(suffix) if suffix.isdigit() else 1


def _start(copy: Path, backend: str) -> None:
    try:
        result = _lcdev("up", "-d", "--no-watch", "--backend", backend, "-w", str(copy),
                        timeout=_UP_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise StackNotAvailable(f"the ephemeral stack did not start within {_UP_TIMEOUT:.0f} s",
                                "check `lcdev doctor`") from exc
    if result.returncode != 0:
        raise StackNotAvailable(
            "the ephemeral stack did not start",
            "run `lcdev up` in the workspace to see why, or check `lcdev doctor`",
            _tail(result.stderr + result.stdout))


def running_target(root: Path) -> ContractTarget:
    """The stack ``lcdev up`` already runs for ``root`` (``--running``)."""
    status = _status(root)
    if not status.get("running"):
        raise StackNotAvailable(f"no stack is running for {root}",
                                "start it with `lcdev up -d`, or drop --running to test on an "
                                "ephemeral copy")
    if status.get("phase") != "ready":
        raise StackNotAvailable(f"the running stack is {status.get('phase')}, not ready",
                                "`lcdev status` shows which component is not healthy")
    return _target_from_status(root, status)


def free_every_port(workspace_file: Path) -> None:
    """Set the gateway, telemetry and every infrastructure port of ``lcdev.yaml`` to 0 (a free
    one at start), keeping the file's comments and layout (ruamel round-trip)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load(workspace_file.read_text())
    data.setdefault("gateway", {})["port"] = 0
    data.setdefault("telemetry", {})["port"] = 0
    ports = data.setdefault("ports", {})
    for name in {*ports, *_infrastructure_components(workspace_file.parent,
                                                      str(data.get("stack", "default")))}:
        ports[name] = 0
    with workspace_file.open("w") as stream:
        yaml.dump(data, stream)


def _infrastructure_components(root: Path, stack: str) -> list[str]:
    """Components of the workspace's stack file that listen on a port of their own."""
    from ruamel.yaml import YAML

    from lcdev.definitions.stack import bundled_stacks_dir

    for directory in (root / "stacks", bundled_stacks_dir()):
        path = directory / f"{stack}.yaml"
        if path.is_file():
            components = (YAML(typ="safe").load(path.read_text()) or {}).get("components", {})
            return [name for name, spec in components.items()
                    if isinstance(spec, dict) and isinstance(spec.get("port"), int)]
    return []


def _status(root: Path) -> dict[str, Any]:
    result = _lcdev("status", "--json", "-w", str(root), timeout=30)
    try:
        data: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise StackNotAvailable("`lcdev status` did not answer",
                                output=_tail(result.stderr)) from exc
    return data


def _target_from_status(root: Path, status: dict[str, Any]) -> ContractTarget:
    loaded = load_workspace(root)
    urls = {c["name"]: str(c.get("url") or "") for c in status.get("components", [])}
    lowcode = [s["name"] for s in status.get("services", []) if s.get("kind") == "lowcode"]
    return ContractTarget(
        root=root,
        loaded=loaded,
        gateway_url=str(status.get("gateway_url") or urls.get("gateway", "")),
        token=development_token(loaded),
        dsn=urls.get("postgres", ""),
        bootstrap=urls.get("kafka", "").removeprefix("kafka://"),
        services={name: urls[name] for name in lowcode if urls.get(name)},
    )


def development_token(loaded: LoadedWorkspace, subject: str = "lcdev-test",
                      ttl: int = 3600) -> str | None:
    """A JWT signed with the key services verify (as ``lcdev token`` prints), or None when no
    service asks for JWT auth with a workspace secret."""
    from lcdev.gateway.dev_tokens import jwt_secret_name, mint_token

    if loaded.workspace is None:
        return None
    name = jwt_secret_name(loaded)
    ref = loaded.workspace.secrets.get(name) if name else None
    key = ref.resolve(loaded.root) if ref is not None else None
    return mint_token(key, subject, ttl) if key else None


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
