"""Asking a running low-code service to swap itself to its definition on disk.

The service side is ``POST /_lcdev/reload`` (docs/reload-internals.md): the supervisor sends
``{"allow_destructive", "force"}`` with the run's control token and gets back what happened.
``ServiceReloadClient`` is the interface the reloader uses; ``HttpServiceReloadClient`` talks
to real processes, ``InMemoryServiceReloadClient`` is a second, real implementation for unit
tests (scripted answers, every call recorded), the way ``InMemoryBackend`` stands in for
processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

__all__ = [
    "OUTCOMES",
    "HttpServiceReloadClient",
    "InMemoryServiceReloadClient",
    "ReloadAnswer",
    "ReloadCall",
    "ServiceReloadClient",
]

OUTCOMES = frozenset({"reloaded", "unchanged", "invalid", "refused", "failed"})
RELOAD_TIMEOUT_S = 120.0
"""A swap may migrate a big table; the supervisor waits that long before calling it failed."""


@dataclass(frozen=True)
class ReloadAnswer:
    """A service's answer to a reload request (the JSON of ``POST /_lcdev/reload``)."""

    outcome: str
    version_before: str = ""
    version_after: str = ""
    changes: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    message: str = ""
    swapped_at: float | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReloadAnswer:
        """Read an answer; anything malformed becomes a ``failed`` answer saying so."""
        outcome = data.get("outcome")
        if outcome not in OUTCOMES:
            return cls("failed", message=f"the service answered an unknown outcome {outcome!r}")
        swapped_at = data.get("swapped_at")
        timings = data.get("timings_ms") or {}
        return cls(
            outcome=str(outcome),
            version_before=str(data.get("version_before") or ""),
            version_after=str(data.get("version_after") or ""),
            changes=[str(c) for c in data.get("changes") or []],
            destructive=[str(c) for c in data.get("destructive") or []],
            problems=[str(p) for p in data.get("problems") or []],
            message=str(data.get("message") or ""),
            swapped_at=float(swapped_at) if isinstance(swapped_at, int | float) else None,
            timings_ms={str(k): float(v) for k, v in timings.items()
                        if isinstance(v, int | float)} if isinstance(timings, dict) else {},
        )


class ServiceReloadClient(Protocol):
    """Asks the service ``name`` listening at ``url`` to reload itself."""

    async def reload(
        self, name: str, url: str, *, allow_destructive: bool, force: bool
    ) -> ReloadAnswer: ...

    async def aclose(self) -> None: ...


class HttpServiceReloadClient:
    """The real client: one pooled ``httpx.AsyncClient`` for the supervisor's lifetime."""

    def __init__(self, token: str, timeout_s: float = RELOAD_TIMEOUT_S) -> None:
        self._token = token
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=2.0))

    async def reload(
        self, name: str, url: str, *, allow_destructive: bool, force: bool
    ) -> ReloadAnswer:
        try:
            response = await self._client.post(
                f"{url}/_lcdev/reload",
                json={"allow_destructive": allow_destructive, "force": force},
                headers={"x-lcdev-token": self._token},
            )
        except httpx.HTTPError as exc:
            return ReloadAnswer("failed", message=f"{name} did not answer the reload request"
                                                  f" ({type(exc).__name__}: {exc})")
        if response.status_code != 200:
            return ReloadAnswer("failed", message=f"{name} answered the reload request with"
                                                  f" HTTP {response.status_code}:"
                                                  f" {response.text[:200]}")
        try:
            data = response.json()
        except ValueError:
            return ReloadAnswer("failed", message=f"{name} answered the reload request with"
                                                  " something that is not JSON")
        if not isinstance(data, dict):
            return ReloadAnswer("failed", message=f"{name} answered an unexpected JSON value")
        return ReloadAnswer.from_json(data)

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True)
class ReloadCall:
    """One request the in-memory client received (times are ``time.monotonic``)."""

    name: str
    url: str
    allow_destructive: bool
    force: bool
    started: float
    ended: float


Script = Callable[[str, bool, bool], ReloadAnswer]
"""``(name, allow_destructive, force) -> answer``."""


def _swapped(name: str, allow_destructive: bool, force: bool) -> ReloadAnswer:
    return ReloadAnswer("reloaded", swapped_at=time.time(), timings_ms={"total": 1.0})


class InMemoryServiceReloadClient:
    """Answers from a script instead of a process: ``answers[name]`` (an answer, or a function
    of the request) or else ``reloaded`` at once; each call takes ``delay_s`` and is recorded
    in ``calls``, so tests see order and overlap."""

    def __init__(
        self,
        answers: Mapping[str, ReloadAnswer | Script] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.answers: dict[str, ReloadAnswer | Script] = dict(answers or {})
        self.delay_s = delay_s
        self.calls: list[ReloadCall] = []
        self.closed = False

    async def reload(
        self, name: str, url: str, *, allow_destructive: bool, force: bool
    ) -> ReloadAnswer:
        started = time.monotonic()
        await asyncio.sleep(self.delay_s)
        scripted = self.answers.get(name, _swapped)
        answer = scripted if isinstance(scripted, ReloadAnswer) else scripted(
            name, allow_destructive, force)
        self.calls.append(ReloadCall(name, url, allow_destructive, force, started,
                                     time.monotonic()))
        return answer

    async def aclose(self) -> None:
        self.closed = True
