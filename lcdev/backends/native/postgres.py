"""Native PostgreSQL: initdb once into the workspace's data dir, then run ``postgres`` directly.

PostgreSQL refuses to run as root, so when lcdev runs as root the cluster is created and run
as an unprivileged user (``postgres`` when it exists, else ``nobody``; ``LCDEV_PG_USER``
overrides). The server listens on 127.0.0.1 only, with no unix socket, and trusts local
connections: this is a development database.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import signal
import stat
from pathlib import Path

from lcdev.backends.base import BackendError, ResolvedComponent
from lcdev.backends.native.binaries import BinaryNotFound, locate_postgres

__all__ = ["DATABASE", "SUPERUSER", "PostgresRecipe"]

SUPERUSER = "lcdev"
DATABASE = "lcdev"
STOP_SIGNAL = signal.SIGINT  # "fast shutdown": roll back clients, checkpoint, exit


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("LCDEV_PG_USER"), "postgres", "nobody"):
        if not name:
            continue
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise BackendError(
        "running as root, and no unprivileged user to run PostgreSQL as",
        hint="create a user (`useradd postgres`) or set LCDEV_PG_USER to an existing one",
    )


def _traversable_by(path: Path, user: pwd.struct_passwd) -> Path | None:
    """Return the first ancestor of ``path`` the user cannot enter, if any."""
    for directory in [*reversed(path.parents)]:
        info = directory.stat()
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == user.pw_gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return directory
    return None


class PostgresRecipe:
    """Everything the native backend needs to know to run PostgreSQL."""

    def __init__(self) -> None:
        self.user = _unprivileged_user()
        self._bin_dir: Path | None = None

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            try:
                self._bin_dir = locate_postgres().path
            except BinaryNotFound as exc:
                raise BackendError(str(exc)) from exc
        return self._bin_dir

    def _ids(self) -> tuple[int | None, int | None]:
        return (self.user.pw_uid, self.user.pw_gid) if self.user else (None, None)

    async def prepare(self, component: ResolvedComponent) -> None:
        data = component.data_dir
        if (data / "PG_VERSION").exists():
            self._check_version(data)
            return
        data.mkdir(parents=True, exist_ok=True)
        uid, gid = self._ids()
        if self.user is not None:
            blocked = _traversable_by(data, self.user)
            if blocked is not None:
                raise BackendError(
                    f"PostgreSQL runs as user '{self.user.pw_name}' (lcdev runs as root), "
                    f"which cannot enter {blocked}",
                    hint=f"chmod o+x {blocked}, or put the workspace somewhere world-readable",
                )
            os.chown(data, uid or 0, gid or 0)
        data.chmod(0o700)
        template = self._template_dir()
        if template is not None and (template / "PG_VERSION").exists():
            await asyncio.to_thread(self._copy_cluster, template, data)
            return
        await self._initdb(data)
        if template is not None:
            await asyncio.to_thread(self._keep_template, data, template)

    async def _initdb(self, data: Path) -> None:
        uid, gid = self._ids()
        process = await asyncio.create_subprocess_exec(
            str(self.bin_dir / "initdb"),
            "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=uid,
            group=gid,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise BackendError(
                f"initdb failed (exit {process.returncode}): "
                + output.decode(errors="replace").strip()[-2000:],
                hint=f"remove {data} (`lcdev down -v`) and try again",
            )

    def _template_dir(self) -> Path | None:
        """A pristine cluster made by this exact server build, kept in the user's cache so a
        fresh data dir (a new workspace, `down -v`) is a copy instead of a ~1 s initdb.
        ``LCDEV_PG_TEMPLATES=0`` turns it off."""
        if os.environ.get("LCDEV_PG_TEMPLATES", "1") == "0":
            return None
        server = (self.bin_dir / "postgres").resolve()
        info = server.stat()
        key = hashlib.sha256(
            f"{server}|{info.st_size}|{info.st_mtime_ns}|{SUPERUSER}|C|UTF8".encode()
        ).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "lcdev" / "pg-templates" / key

    def _copy_cluster(self, source: Path, data: Path) -> None:
        shutil.copytree(source, data, symlinks=True, dirs_exist_ok=True)
        uid, gid = self._ids()
        if uid is not None:
            for folder, dirs, files in os.walk(data):
                os.chown(folder, uid, gid or 0)
                for name in [*dirs, *files]:
                    os.chown(os.path.join(folder, name), uid, gid or 0, follow_symlinks=False)
        data.chmod(0o700)

    def _keep_template(self, data: Path, template: Path) -> None:
        """Copy the just-made cluster into the cache (best effort: a failure only costs speed)."""
        partial = template.with_name(f"{template.name}.{os.getpid()}.tmp")
        try:
            template.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(data, partial, symlinks=True)
            os.replace(partial, template)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)

    def _check_version(self, data: Path) -> None:
        existing = (data / "PG_VERSION").read_text().strip()
        found = (self.bin_dir / "postgres").resolve()
        major = next((p for p in found.parts if p.isdigit()), None)
        if major is not None and major != existing:
            raise BackendError(
                f"the data in {data} was made by PostgreSQL {existing}, "
                f"but the server found is PostgreSQL {major} ({found})",
                hint="`lcdev down -v` wipes the data and starts fresh",
            )

    def argv(self, component: ResolvedComponent) -> list[str]:
        return [
            str(self.bin_dir / "postgres"),
            "-D", str(component.data_dir),
            "-p", str(component.port),
            "-h", component.host,
            "-k", "",
            "-c", "synchronous_commit=off",
            "-c", "max_connections=200",
            "-c", "log_min_messages=warning",
        ]

    def ids(self) -> tuple[int | None, int | None]:
        return self._ids()

    @staticmethod
    async def create_database(component: ResolvedComponent) -> None:
        import asyncpg

        conn = await asyncpg.connect(
            host=component.host, port=component.port, user=SUPERUSER, database="postgres"
        )
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    @staticmethod
    def url(component: ResolvedComponent) -> str:
        return f"postgresql://{SUPERUSER}@{component.host}:{component.port}/{DATABASE}"
