"""Readiness probes: a component is ready when it really answers, not when its process exists.

``sql`` runs ``SELECT 1``; ``kafka`` completes a metadata request; ``http`` gets a 2xx from a
path; ``tcp`` accepts a connection. ``wait_until_ready`` polls (every 10 ms at first, backing
off to 100 ms) until the probe passes, the component exits, or the timeout expires. Backends
share these, so native processes and containers are judged the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from lcdev.backends.base import ComponentHandle, ResolvedComponent
from lcdev.backends.native.postgres import SUPERUSER

__all__ = [
    "ComponentExited", "ReadinessTimeout", "poll_delay", "probe_once", "wait_until_ready",
]

FIRST_POLL = 0.01
POLL_INTERVAL = 0.1


class ReadinessTimeout(TimeoutError):
    """The component never answered its probe; ``last_error`` is the probe's last failure."""

    def __init__(self, seconds: float, last_error: str) -> None:
        super().__init__(f"not ready after {seconds:g}s (last probe: {last_error})")
        self.last_error = last_error


class ComponentExited(RuntimeError):
    """The component's process or container exited while lcdev waited for it."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"exited with code {code} before becoming ready")
        self.code = code


async def _tcp(component: ResolvedComponent) -> None:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(component.host, component.port), timeout=1.0
    )
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _sql(component: ResolvedComponent) -> None:
    import asyncpg

    await _tcp(component)
    conn = await asyncpg.connect(
        host=component.host, port=component.port, user=SUPERUSER, database="postgres", timeout=2
    )
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


async def _kafka(component: ResolvedComponent) -> None:
    from aiokafka.client import AIOKafkaClient

    await _tcp(component)
    # aiokafka logs every refused bootstrap at ERROR; a probe expects refusals while starting.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    client = AIOKafkaClient(
        bootstrap_servers=f"{component.host}:{component.port}", request_timeout_ms=2000
    )
    try:
        await client.bootstrap()  # sends a MetadataRequest and reads the cluster's brokers
    finally:
        await client.close()


async def _http(component: ResolvedComponent) -> None:
    import httpx

    path = component.definition.readiness.path
    async with httpx.AsyncClient(timeout=1.0) as client:
        response = await client.get(f"http://{component.host}:{component.port}{path}")
    if not response.is_success:
        raise RuntimeError(f"GET {path} answered {response.status_code}")


_PROBES: dict[str, Callable[[ResolvedComponent], Awaitable[None]]] = {
    "sql": _sql,
    "kafka": _kafka,
    "http": _http,
    "tcp": _tcp,
}


async def probe_once(component: ResolvedComponent) -> None:
    """Run the component's probe once; raises on failure."""
    await _PROBES[component.definition.readiness.probe](component)


def poll_delay(attempt: int) -> float:
    """10 ms after the first failed probe, growing by 30 % up to ``POLL_INTERVAL``: a process
    that is ready within a few tens of milliseconds (a forked service, a code service's
    replacement) is seen at once, and a slow one is not probed more than every 100 ms."""
    return float(min(POLL_INTERVAL, FIRST_POLL * 1.3 ** (attempt - 1)))


async def wait_until_ready(component: ResolvedComponent, handle: ComponentHandle) -> float:
    """Poll until ready; return the seconds it took."""
    started = time.monotonic()
    deadline = started + component.definition.readiness.timeout
    last_error = "no attempt yet"
    attempt = 0
    while True:
        if handle.exited():
            raise ComponentExited(await handle.wait())
        try:
            await probe_once(component)
            return time.monotonic() - started
        except Exception as exc:  # every failure means "not yet"; keep the last to explain
            last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if time.monotonic() >= deadline:
            raise ReadinessTimeout(component.definition.readiness.timeout, last_error)
        attempt += 1
        await asyncio.sleep(poll_delay(attempt))
