"""Choosing a backend for ``--backend auto|native|docker`` and saying why."""

from __future__ import annotations

from dataclasses import dataclass

from lcdev.backends.engines import candidate_sockets, find_docker_engine
from lcdev.backends.errors import BackendError

__all__ = ["BackendChoice", "choose_backend"]

AVAILABLE = ("native",)


@dataclass(frozen=True)
class BackendChoice:
    """The backend to use and the reason, shown by ``up`` and ``doctor``."""

    name: str
    reason: str


def choose_backend(requested: str) -> BackendChoice:
    if requested == "native":
        return BackendChoice("native", "requested with --backend native")
    engine = find_docker_engine()
    if requested == "docker":
        if engine is None:
            tried = ", ".join(address for address, _ in candidate_sockets())
            raise BackendError(
                f"no Docker engine answers (tried {tried})",
                hint="start Docker (or podman/colima), set DOCKER_HOST, or use --backend native",
            )
        raise BackendError(
            f"a Docker engine answers at {engine.address}, but the Docker backend is not part "
            "of this version of lcdev yet",
            hint="use --backend native (same stack, as local processes)",
        )
    if requested != "auto":
        raise BackendError(f"unknown backend '{requested}'", hint="use auto, native or docker")
    if engine is None:
        return BackendChoice("native", "no Docker engine answers, so the embedded native stack")
    return BackendChoice(
        "native",
        f"a Docker engine answers at {engine.address} ({engine.source}), but the Docker backend "
        "is not part of this version yet, so the native stack",
    )
