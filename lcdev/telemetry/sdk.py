"""The OpenTelemetry SDK set-up shared by every lcdev process (gateway, runtime services).

The supervisor gives each process ``OTEL_EXPORTER_OTLP_ENDPOINT`` and friends (see
docs/telemetry-internals.md); ``setup_telemetry`` turns that environment into a tracer provider
and a meter provider exporting OTLP/HTTP protobuf, installs them as the global providers and
returns a ``Telemetry`` handle. Without an endpoint (a process run by hand) or with
``LCDEV_TELEMETRY=off`` it installs nothing and hands out no-op tracer and meter.

Spans go out as OTLP/HTTP protobuf through the standard exporter, unless
``LCDEV_OTLP_ENCODING=json``: the supervisor sets that for lcdev's own processes (gateway,
runtime), whose spans then go through ``export_json.OtlpJsonSpanExporter`` — the same request
in OTLP/JSON at a fraction of the CPU. User code services keep the standard behaviour.

Importing this module is cheap on purpose: the SDK and exporter cost ~0.3 s to import, so they
are imported inside ``setup_telemetry``, which callers run after forking or after they already
serve (the gateway). Telemetry must never hurt the process it observes: an unreachable receiver
neither blocks nor crashes it, ``shutdown`` returns within a bounded time and never raises, and
the exporters' failure warnings are rate-limited rather than printed for every batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import Tracer

__all__ = [
    "DISABLE_ENV",
    "ENCODING_ENV",
    "RATE_ENV",
    "EXPORTER_LOGGERS",
    "Telemetry",
    "current_ids",
    "json_encoding_requested",
    "setup_telemetry",
    "telemetry_requested",
]

DISABLE_ENV = "LCDEV_TELEMETRY"
"""Set to ``off`` (or ``0``/``false``/``no``) to keep a process silent even with an endpoint."""

ENCODING_ENV = "LCDEV_OTLP_ENCODING"
RATE_ENV = "LCDEV_TRACES_PER_SECOND"
"""New traces a second each process starts at most (``sampling.py``); 0 or unset: every one.
A standard ``OTEL_TRACES_SAMPLER`` in the environment wins over it."""
"""``json`` sends spans with lcdev's OTLP/JSON exporter (cheap); anything else, protobuf."""

INSTRUMENTATION_NAME = "lcdev"
SHUTDOWN_TIMEOUT_S = 1.5
"""How long ``Telemetry.shutdown`` waits for the last flush before giving up on it."""

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.metrics._internal.export",
    "lcdev.telemetry.export_json",
)
"""Loggers through which the SDK reports export failures; each gets a rate limit."""

LOG_INTERVAL_S = 60.0
"""At most one export-failure record per logger per this many seconds."""

_installed: Telemetry | None = None
_install_lock = threading.Lock()


@dataclass
class Telemetry:
    """What ``setup_telemetry`` installed: a tracer, a meter, and how to flush and stop them.

    ``enabled`` is False when nothing was installed; ``tracer`` and ``meter`` are then the
    API's no-op implementations, so instrumented code needs no branches.
    """

    tracer: Tracer
    meter: Meter
    enabled: bool
    _shutdown_hooks: list[Callable[[], object]] = field(default_factory=list, repr=False)
    _interrupt_hooks: list[Callable[[], object]] = field(default_factory=list, repr=False)
    _done: bool = field(default=False, repr=False)

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Flush what is buffered and stop exporting; True when that finished in time.

        The flush runs in a daemon thread so an unreachable or hanging receiver costs at most
        ``timeout_s`` (plus a short grace after interrupting the exporters' retry waits).
        Never raises; calling it again does nothing.
        """
        if self._done:
            return True
        self._done = True
        worker = threading.Thread(target=_run_all, args=(self._shutdown_hooks,),
                                  name="lcdev-telemetry-shutdown", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if not worker.is_alive():
            return True
        # The receiver is unreachable or hangs: what is buffered is lost anyway. Exporters
        # sleep between retries and shutting them down wakes that sleep; their complaints
        # about it (and about the second shutdown that follows) are noise by now.
        for name in EXPORTER_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        _run_all(self._interrupt_hooks)
        worker.join(0.5)
        return False


def setup_telemetry(service_name: str | None = None) -> Telemetry:
    """Configure the OTel SDK from the ``OTEL_*`` environment and install it globally.

    ``service_name`` overrides ``OTEL_SERVICE_NAME`` (the resource's ``service.name``). Call
    it after any fork and never at import time; calling it again returns the same handle.
    """
    global _installed
    if not telemetry_requested():
        return _disabled()
    with _install_lock:
        if _installed is None:  # global providers can be set once: later calls share them
            try:
                _installed = _install(service_name)
            except Exception:  # noqa: BLE001 - a broken set-up must not stop the service
                logging.getLogger(__name__).warning("telemetry disabled: set-up failed",
                                                    exc_info=True)
                return _disabled()
        return _installed


def current_ids() -> tuple[str, str]:
    """(trace id, span id) of the current span as lower-case hex, or ``("", "")``.

    For JSON log lines: the store's line parser links a line carrying these to its trace.
    """
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def telemetry_requested() -> bool:
    """Whether the environment asks for telemetry (an OTLP endpoint, not switched off).

    Cheap: lets a process skip even importing the OTel API when nothing will be exported.
    """
    if os.environ.get(DISABLE_ENV, "").strip().lower() in {"off", "0", "false", "no"}:
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def _disabled() -> Telemetry:
    from opentelemetry import metrics, trace

    return Telemetry(tracer=trace.NoOpTracer(), meter=metrics.NoOpMeter(INSTRUMENTATION_NAME),
                     enabled=False)


def _install(service_name: str | None) -> Telemetry:
    from opentelemetry import metrics, trace
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _rate_limit_exporter_logs()
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; an explicit name wins.
    resource = Resource.create({SERVICE_NAME: service_name} if service_name else {})
    span_exporter = _span_exporter()
    metric_exporter = OTLPMetricExporter()
    # shutdown_on_exit=False: the SDK's own atexit hook waits up to 30 s on a dead receiver;
    # ours (Telemetry.shutdown) is bounded.
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False,
                                     sampler=_sampler())
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))  # reads OTEL_BSP_*
    reader = PeriodicExportingMetricReader(metric_exporter)  # reads OTEL_METRIC_EXPORT_*
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader],
                                   shutdown_on_exit=False)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)

    def flush_and_stop() -> None:
        tracer_provider.force_flush()
        tracer_provider.shutdown()
        meter_provider.shutdown()

    telemetry = Telemetry(
        tracer=tracer_provider.get_tracer(INSTRUMENTATION_NAME),
        meter=meter_provider.get_meter(INSTRUMENTATION_NAME),
        enabled=True,
        _shutdown_hooks=[flush_and_stop],
        _interrupt_hooks=[span_exporter.shutdown, metric_exporter.shutdown],
    )
    import atexit

    atexit.register(telemetry.shutdown)
    return telemetry


def _sampler() -> Sampler | None:
    """Rate-limited roots when ``LCDEV_TRACES_PER_SECOND`` asks for it; None lets the SDK
    read ``OTEL_TRACES_SAMPLER`` (default: every trace)."""
    if os.environ.get("OTEL_TRACES_SAMPLER"):
        return None
    try:
        per_second = float(os.environ.get(RATE_ENV, "0") or 0)
    except ValueError:
        return None
    if per_second <= 0:
        return None
    from lcdev.telemetry.sampling import rate_limited

    return rate_limited(per_second)


def json_encoding_requested() -> bool:
    """Whether ``LCDEV_OTLP_ENCODING`` asks for spans in OTLP/JSON (lcdev's own processes)."""
    return os.environ.get(ENCODING_ENV, "").strip().lower() == "json"


def _span_exporter() -> SpanExporter:
    if json_encoding_requested():
        from lcdev.telemetry.export_json import OtlpJsonSpanExporter

        return OtlpJsonSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _run_all(hooks: list[Callable[[], object]]) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001,S112 - shutting down telemetry never raises
            continue


class _RateLimitFilter(logging.Filter):
    """Lets one record through per interval and counts the ones it held back.

    A receiver that is down makes the exporters log on every batch (every 200 ms here); one
    line a minute says the same without flooding the process's log.
    """

    def __init__(self, interval_s: float) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._next_allowed = 0.0
        self._suppressed = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now < self._next_allowed:
                self._suppressed += 1
                return False
            self._next_allowed = now + self._interval_s
            suppressed, self._suppressed = self._suppressed, 0
        if suppressed:
            record.msg = f"{record.msg} ({suppressed} similar messages suppressed)"
        return True


def _rate_limit_exporter_logs() -> None:
    for name in EXPORTER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RateLimitFilter) for f in logger.filters):
            logger.addFilter(_RateLimitFilter(LOG_INTERVAL_S))
