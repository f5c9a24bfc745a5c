"""The supervisor's telemetry: every line of every process into the store, and an OTLP receiver.

Log lines arrive on the supervisor's event loop; they are parsed (cheap) and queued on the
store's writer thread, which batches them off the hot path. Spans and metrics arrive at the
OTLP/HTTP receiver on 127.0.0.1 (the port every process finds in its ``OTEL_*`` environment)
and go to the same writer; with ``telemetry.forward`` set they are also sent on to an external
collector, from another thread, without ever holding up local storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any

from lcdev.backends.base import BackendError
from lcdev.core.events import (
    ComponentCrashed,
    ComponentFailed,
    ComponentReady,
    ComponentRestarting,
    Event,
    LogLineEmitted,
    ReloadFailed,
    ServiceReloaded,
    StackFailed,
    StackReady,
    StackStopped,
    StackStopping,
    WorkspaceReloaded,
)
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions.workspace import WorkspaceTelemetry
from lcdev.supervisor.ports import port_holder
from lcdev.telemetry.logparse import parse_line
from lcdev.telemetry.records import Level, LogRecord
from lcdev.telemetry.store import StoreLimits, TelemetryWriter

if TYPE_CHECKING:
    from lcdev.telemetry.otlp.forward import Forwarder
    from lcdev.telemetry.otlp.receiver import OtlpReceiver

__all__ = ["TelemetryHub"]

DEFAULT_OTLP_PORT = 4318
SUPERVISOR_SOURCE = "lcdev"


class TelemetryHub:
    """Owns the store writer, the OTLP receiver and the forwarder of one supervisor."""

    def __init__(self, layout: WorkspaceLayout, settings: WorkspaceTelemetry,
                 workspace_name: str) -> None:
        self.layout = layout
        self.settings = settings
        self.workspace_name = workspace_name
        self.port = 0
        self._reserved: socket.socket | None = None
        self._writer: TelemetryWriter | None = None
        self._receiver: OtlpReceiver | None = None
        self._forwarder: Forwarder | None = None
        self.receiver_error = ""
        self.wipe_requested = False  # set by ``down -v``: the store goes with the data

    # -- set-up, before anything starts -------------------------------------------------------

    def reserve_port(self) -> None:
        """Bind the receiver's port now, so the ``OTEL_*`` environment names a port that is ours.

        An explicitly configured port must be free (a clear error otherwise); the default 4318
        falls back to any free port, since another collector on it is common."""
        if not self.settings.enabled:
            return
        explicit = "port" in self.settings.model_fields_set
        wanted = self.settings.port
        try:
            self._reserved = _bind(wanted)
        except OSError:
            if explicit and wanted != 0:
                holder = port_holder(wanted)
                raise BackendError(
                    f"telemetry.port {wanted} is in use" + (f" by {holder}" if holder else ""),
                    hint="stop what holds it, or set telemetry.port to another port "
                         "(0 picks a free one)",
                ) from None
            self._reserved = _bind(0)
        self.port = self._reserved.getsockname()[1]

    def open_store(self) -> None:
        settings = self.settings
        limits = StoreLimits(max_bytes=settings.max_size_mb * 1024 * 1024,
                             max_age_s=settings.max_age_hours * 3600)
        self.layout.telemetry_dir.mkdir(parents=True, exist_ok=True)
        self._writer = TelemetryWriter(self.layout.telemetry_db, limits)
        self._writer.start()

    def env(self, component: str, lcdev_process: bool = False) -> dict[str, str]:
        """The environment that points a process's OpenTelemetry SDK at the receiver.

        lcdev's own processes (the gateway, low-code services) export spans as OTLP/JSON
        encoded with orjson, several times cheaper than the SDK's protobuf encoder; everything
        else gets the standard settings only."""
        if not self.port:
            return {}
        own = {"LCDEV_OTLP_ENCODING": "json",
               "LCDEV_TRACES_PER_SECOND": str(self.settings.max_traces_per_second),
               } if lcdev_process else {}
        return {**own,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": component,
            "OTEL_RESOURCE_ATTRIBUTES": f"service.namespace={self.workspace_name}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "5000",
        }

    # -- running ------------------------------------------------------------------------------

    async def start_receiver(self) -> None:
        """Serve OTLP on the reserved socket. Slow imports (protobuf, starlette) happen in a
        thread, so they overlap the stack's start-up instead of holding the event loop."""
        if self._reserved is None or self._writer is None:
            return
        try:
            await asyncio.to_thread(_import_receiver)
            from lcdev.telemetry.otlp.forward import Forwarder
            from lcdev.telemetry.otlp.receiver import OtlpReceiver

            if self.settings.forward:
                self._forwarder = Forwarder(self.settings.forward,
                                            dict(self.settings.forward_headers))
            receiver = OtlpReceiver(host="127.0.0.1", port=self.port, sink=self._writer,
                                    forwarder=self._forwarder, sock=self._reserved)
            await receiver.start()
            self._receiver = receiver
        except Exception as exc:  # telemetry must never take the stack down
            self.receiver_error = f"{type(exc).__name__}: {exc}"
            self.note("error", f"the OTLP receiver could not start: {self.receiver_error}")

    def line(self, source: str, stream: str, text: str) -> None:
        """One line a component printed (called on the event loop for every line)."""
        if self._writer is not None:
            self._writer.add_logs((parse_line(source, stream, text, time.time_ns()),))

    def event(self, event: Event) -> None:
        """The supervisor's own story (ready, crashed, restarting) joins the merged log."""
        if isinstance(event, LogLineEmitted):
            return
        described = _describe(event)
        if described is not None:
            self.note(*described)

    def note(self, level: Level, message: str) -> None:
        if self._writer is not None:
            self._writer.add_logs((LogRecord(time_ns=time.time_ns(), service=SUPERVISOR_SOURCE,
                                             stream="stderr", level=level, message=message),))

    def status(self) -> dict[str, Any]:
        """What ``lcdev status --json`` shows about telemetry."""
        result: dict[str, Any] = {
            "store": str(self.layout.telemetry_db),
            "otlp_endpoint": f"http://127.0.0.1:{self.port}" if self._receiver else None,
        }
        if self.receiver_error:
            result["receiver_error"] = self.receiver_error
        if self._writer is not None:
            result["writer"] = _plain(self._writer.stats())
        if self._receiver is not None:
            result["receiver"] = _plain(self._receiver.stats())
        if self._forwarder is not None:
            result["forward"] = {"endpoint": self.settings.forward,
                                 **_plain(self._forwarder.stats())}
        return result

    async def close(self, wipe: bool) -> None:
        """Stop receiving, flush what is queued, and with ``wipe`` delete the store."""
        if self._receiver is not None:
            with contextlib.suppress(Exception):
                await self._receiver.stop()
            self._receiver = None
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None
        if self._forwarder is not None:
            await asyncio.to_thread(self._forwarder.close, 1.0)
            self._forwarder = None
        if self._writer is not None:
            await asyncio.to_thread(self._writer.close, 2.0)
            self._writer = None
        if wipe:
            shutil.rmtree(self.layout.telemetry_dir, ignore_errors=True)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _import_receiver() -> None:
    import lcdev.telemetry.otlp.forward
    import lcdev.telemetry.otlp.receiver  # noqa: F401


def _plain(stats: Any) -> dict[str, Any]:
    if is_dataclass(stats) and not isinstance(stats, type):
        return asdict(stats)
    return dict(stats)


def _describe(event: Event) -> tuple[Level, str] | None:
    match event:
        case ComponentReady(name=name, seconds=seconds):
            return "info", f"{name} is ready ({seconds:.2f} s)"
        case ComponentCrashed(name=name, exit_code=code, restart_in=delay):
            return "error", f"{name} exited with code {code}; restarting in {delay:.1f} s"
        case ComponentRestarting(name=name, attempt=attempt):
            return "warn", f"{name}: restart attempt {attempt}"
        case ComponentFailed(name=name, reason=reason):
            return "error", f"{name} failed: {reason}"
        case StackReady(seconds=seconds):
            return "info", f"stack ready in {seconds:.2f} s"
        case StackFailed(reason=reason):
            return "error", f"stack failed: {reason}"
        case StackStopping(remove_data=wipe):
            return "info", "stopping the stack" + (" and removing its data" if wipe else "")
        case StackStopped():
            return "info", "stack stopped"
        case ServiceReloaded(name=name, how=how, version_before=before, version_after=after,
                             changes=changes, seconds=seconds):
            versions = f" {before} → {after}" if before and after and before != after else ""
            what = f": {'; '.join(changes[:5])}" if changes else ""
            more = f" (+{len(changes) - 5} more)" if len(changes) > 5 else ""
            return "info", f"{name} {how}{versions} in {seconds * 1000:.0f} ms{what}{more}"
        case ReloadFailed(name=name, reason=reason, message=message, problems=problems,
                          hint=hint):
            text = f"{name}: reload {reason}: {message}"
            text += "".join(f" | {p}" for p in problems) + (f" | hint: {hint}" if hint else "")
            return "error" if reason != "destructive" else "warn", text
        case WorkspaceReloaded(applied=applied, needs_up=needs_up):
            parts = [f"applied {', '.join(applied)}"] if applied else []
            parts += needs_up
            return "warn" if needs_up else "info", "lcdev.yaml: " + "; ".join(parts or
                                                                          ["no change"])
    return None
