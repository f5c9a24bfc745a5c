"""Finding a Docker-compatible engine (Docker, Docker Desktop, colima, podman) that answers."""

from __future__ import annotations

import http.client
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lcdev.backends.unix_http import UnixHTTPConnection

__all__ = ["EngineInfo", "candidate_sockets", "find_docker_engine"]


@dataclass(frozen=True)
class EngineInfo:
    """An engine that answered ``GET /_ping``."""

    address: str
    source: str


def candidate_sockets() -> list[tuple[str, str]]:
    """(address, where it came from), most specific first."""
    found: list[tuple[str, str]] = []
    if os.environ.get("DOCKER_HOST"):
        found.append((os.environ["DOCKER_HOST"], "DOCKER_HOST"))
    home = Path.home()
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    for path, source in (
        ("/var/run/docker.sock", "Docker"),
        (str(home / ".docker/run/docker.sock"), "Docker Desktop"),
        (str(home / ".colima/default/docker.sock"), "colima"),
        ("/run/podman/podman.sock", "podman"),
        (f"{runtime}/podman/podman.sock", "podman (rootless)"),
    ):
        found.append((f"unix://{path}", source))
    return found


def _ping(address: str) -> bool:
    conn: http.client.HTTPConnection
    if address.startswith("unix://"):
        path = address.removeprefix("unix://")
        if not Path(path).exists():
            return False
        conn = UnixHTTPConnection(path, timeout=0.5)
    elif address.startswith("tcp://"):
        parts = urlsplit(address)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 2375, timeout=0.5)
    else:
        return False
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def find_docker_engine() -> EngineInfo | None:
    """The first engine that answers, or None."""
    for address, source in candidate_sockets():
        if _ping(address):
            return EngineInfo(address, source)
    return None
