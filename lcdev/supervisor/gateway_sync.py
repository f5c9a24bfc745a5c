"""Keeping the running gateway's routes equal to what runs, and knowing when it serves them.

After any change to routes, policies, upstreams or secrets, ``GatewaySync.publish`` rewrites
``gateway.json`` with the next ``generation``, tells the gateway (SIGHUP natively) and polls its
``GET /_lcdev/health`` until it answers that generation (at most ``wait_s``; a warning in the
merged log otherwise — the gateway also re-reads the file by itself within 250 ms). A rewrite
that would not change anything is skipped, so callers publish whenever something *may* have
changed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx

from lcdev.backends.base import ComponentHandle, ResolvedComponent
from lcdev.definitions import LoadedWorkspace
from lcdev.gateway.config import write_config
from lcdev.supervisor.resolve import build_gateway_file, gateway_component
from lcdev.supervisor.supervisor import Supervisor

__all__ = ["GatewaySync", "Published"]


@dataclass(frozen=True)
class Published:
    """One rewrite: its generation, how long until the gateway served it, whether it said so
    (False: it did not confirm within the wait) and when (wall clock)."""

    generation: int
    ms: float
    confirmed: bool
    at: float


def _without_generation(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "generation"}


class GatewaySync:
    """The supervisor's side of the gateway's live configuration."""

    def __init__(self, supervisor: Supervisor, wait_s: float = 2.0, poll_s: float = 0.005
                 ) -> None:
        self.supervisor = supervisor
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.generation = 0
        self._served: dict[str, Any] | None = None
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(1.0))

    def assume_written(self, view: LoadedWorkspace) -> None:
        """The configuration written at start-up (generation 0) is what the gateway serves."""
        built = build_gateway_file(self.supervisor.plan, view, self.generation)
        self._served = _without_generation(built[1]) if built else None

    async def publish(self, view: LoadedWorkspace) -> Published | None:
        """Make the gateway serve ``view`` on the current ports; None when it already does."""
        built = build_gateway_file(self.supervisor.plan, view, self.generation + 1)
        if built is None:
            return None
        path, config = built
        if _without_generation(config) == self._served:
            return None
        started = time.monotonic()
        self.generation += 1
        write_config(path, config)
        self._served = _without_generation(config)
        component = gateway_component(self.supervisor.plan)
        runtime = self.supervisor.runtimes.get(component.name) if component else None
        handle = runtime.handle if runtime else None
        if component is None or handle is None or handle.exited():
            return Published(self.generation, 0.0, False, time.time())  # read when it starts
        confirmed = await self._tell(component, handle)
        ms = (time.monotonic() - started) * 1000
        if not confirmed:
            self.supervisor.say(
                f"the gateway did not confirm configuration generation {self.generation}"
                f" within {self.wait_s:.0f} s; it re-reads {path.name} by itself shortly")
        return Published(self.generation, ms, confirmed, time.time())

    async def _tell(self, component: ResolvedComponent, handle: ComponentHandle) -> bool:
        await self.supervisor.backend.reload_config(component, handle)
        url = f"http://{component.host}:{component.port}/_lcdev/health"
        deadline = time.monotonic() + self.wait_s
        while True:
            served = await self._served_generation(url)
            if served is None or served >= self.generation:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(self.poll_s)

    async def _served_generation(self, url: str) -> int | None:
        """The generation the gateway answers; None when it answers without one (a gateway
        that does not count them: it applied the SIGHUP before answering); -1 when it does
        not answer well."""
        try:
            response = await self._http.get(url)
        except httpx.HTTPError:
            return -1
        if not response.is_success:
            return -1
        try:
            data = response.json()
        except ValueError:
            return None
        if not isinstance(data, dict) or "generation" not in data:
            return None
        generation = data["generation"]
        return int(generation) if isinstance(generation, int) else -1

    async def aclose(self) -> None:
        await self._http.aclose()
