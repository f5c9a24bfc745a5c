"""The workspace as it was at a git ref, materialised in a temporary folder.

``lcdev test --against REF`` compares the working tree with a commit. The workspace may be a
subfolder of the repository, so the ref's tree is taken from the repository top and only the
workspace's folder is extracted (``git archive REF -- <subpath>``), into a temporary folder
that is removed afterwards whatever happens.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RefUnavailable", "workspace_at_ref"]

_GIT_TIMEOUT = 60.0


class RefUnavailable(Exception):
    """The ref's workspace cannot be had: not a git repository, unknown ref, no workspace."""


@contextlib.contextmanager
def workspace_at_ref(root: Path, ref: str) -> Iterator[Path]:
    """The folder holding the workspace ``root`` as it was at ``ref`` (removed on exit).

    Raises :class:`RefUnavailable` with a message for users when it cannot be had."""
    top = _repository_top(root)
    subpath = root.resolve().relative_to(top).as_posix()
    commit = _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                  failure=f"unknown git ref '{ref}' in {top}").decode().strip()
    pathspec = [] if subpath == "." else ["--", subpath]
    archive = _git(top, "archive", "--format=tar", commit, *pathspec,
                   failure=f"the workspace folder '{subpath}' does not exist at '{ref}'")
    with tempfile.TemporaryDirectory(prefix="lcdev-ref-") as folder:
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(folder, filter="data")  # no absolute paths or links outside
        except (tarfile.TarError, OSError) as exc:
            raise RefUnavailable(f"cannot extract the workspace at '{ref}': {exc}") from exc
        yield Path(folder) / subpath


def _repository_top(root: Path) -> Path:
    if not root.is_dir():
        raise RefUnavailable(f"{root} is not a folder")
    try:
        out = _git(root, "rev-parse", "--show-toplevel",
                   failure=f"{root} is not in a git repository (--against needs one)")
    except FileNotFoundError as exc:  # no git at all
        raise RefUnavailable("git is not installed (--against needs it)") from exc
    return Path(out.decode().strip()).resolve()


def _git(cwd: Path, *args: str, failure: str) -> bytes:
    """Run git in ``cwd``; its stdout, or :class:`RefUnavailable` with ``failure`` and git's
    own words."""
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True,
                                timeout=_GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RefUnavailable(f"git {args[0]} took more than {_GIT_TIMEOUT:g}s") from exc
    if result.returncode != 0:
        said = result.stderr.decode(errors="replace").strip().splitlines()
        raise RefUnavailable(failure + (f" (git: {said[-1]})" if said else ""))
    return result.stdout
