"""Telemetry for the gateway process, switched on after it already answers.

Importing the OTel SDK and OTLP exporter costs ~0.3 s of CPU, and the gateway is on the
critical path of ``lcdev up``: so the process first listens and serves, then a background
thread sets the SDK up (``lcdev.telemetry.sdk``) and hands the tracer to the event loop.
Requests answered before that are not traced. Without ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or with
``LCDEV_TELEMETRY=off``) nothing is imported and requests cost what they cost without tracing.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING

from lcdev.gateway.server import GatewayServer

if TYPE_CHECKING:
    from lcdev.telemetry.sdk import Telemetry

__all__ = ["BackgroundTelemetry"]

SERVICE_NAME = "gateway"


class BackgroundTelemetry:
    """Sets up telemetry for ``server`` in a daemon thread; ``shutdown`` flushes it."""

    def __init__(self, server: GatewayServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server, self.loop = server, loop
        self.telemetry: Telemetry | None = None
        self.ready = threading.Event()  # set once the set-up finished (or found nothing to do)
        self._thread = threading.Thread(target=self._set_up, name="lcdev-telemetry-setup",
                                        daemon=True)

    def start(self) -> None:
        """Begin the set-up; returns at once."""
        self._thread.start()

    def _set_up(self) -> None:
        try:
            from lcdev.telemetry.sdk import setup_telemetry, telemetry_requested

            if not telemetry_requested():
                return  # not even the OTel API gets imported
            telemetry = setup_telemetry(os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAME)
            self.telemetry = telemetry
            if telemetry.enabled and not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self._enable, telemetry)
        except RuntimeError:  # the loop closed meanwhile: the gateway is stopping
            pass
        finally:
            self.ready.set()

    def _enable(self, telemetry: Telemetry) -> None:
        """In the event loop: trace from the next request on, and say so in the log."""
        self.server.enable_tracing(telemetry.tracer)
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        self.server.log.event("telemetry", msg=f"tracing requests, exporting to {endpoint}",
                              endpoint=endpoint)

    def shutdown(self) -> None:
        """Flush and stop the exporters; bounded (``Telemetry.shutdown``), never raises."""
        if not self.ready.wait(1.0):  # still importing: nothing was traced yet
            return
        if self.telemetry is not None:
            self.telemetry.shutdown()
