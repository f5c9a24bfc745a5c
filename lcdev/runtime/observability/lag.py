"""The ``lcdev.consumer.lag`` gauge: how many records each consumed topic partition still has
to apply (end offset − next offset), per consuming service.

One observable gauge per meter, created on first use (never at import time); the consumers of
each running service register with it while they run. The meter's reader calls
:meth:`ConsumerLagGauge.observe` from its own thread, so sources must answer ``lag()`` without
the event loop (``EventConsumers.lag`` reads copies of plain dicts).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Protocol

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from lcdev.runtime.observability.spans import INSTRUMENTATION

__all__ = ["LAG_METRIC", "ConsumerLagGauge", "LagSource", "consumer_lag_gauge"]

LAG_METRIC = "lcdev.consumer.lag"


class LagSource(Protocol):
    """What the gauge reads: records not yet applied, by topic (partition 0 only)."""

    def lag(self) -> Mapping[str, int]: ...


class ConsumerLagGauge:
    """The lag gauge on one meter (default: the global ``lcdev.runtime`` meter)."""

    def __init__(self, meter: Meter | None = None) -> None:
        self._meter = meter
        self._sources: dict[int, tuple[str, LagSource]] = {}
        self._lock = threading.Lock()
        self._created = False

    def watch(self, service: str, source: LagSource) -> None:
        """Report ``source``'s lag as that of ``service`` until :meth:`forget`."""
        with self._lock:
            self._sources[id(source)] = (service, source)
            if not self._created:
                meter = self._meter or metrics.get_meter(INSTRUMENTATION)
                meter.create_observable_gauge(
                    LAG_METRIC, callbacks=[self.observe], unit="{message}",
                    description="Records of a consumed topic partition not yet applied")
                self._created = True

    def forget(self, source: LagSource) -> None:
        with self._lock:
            self._sources.pop(id(source), None)

    def observe(self, _options: CallbackOptions | None = None) -> Iterable[Observation]:
        """One observation per (service, topic) whose lag is known."""
        with self._lock:
            sources = list(self._sources.values())
        observations = []
        for service, source in sources:
            try:
                lags = source.lag()
            except Exception:  # a metric must never break the reader
                continue
            for topic, lag in lags.items():
                observations.append(Observation(lag, {
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": "0",
                    "messaging.consumer.group.name": service}))
        return observations


_global: ConsumerLagGauge | None = None
_global_lock = threading.Lock()


def consumer_lag_gauge() -> ConsumerLagGauge:
    """The process's gauge on the global meter (made on first call)."""
    global _global
    with _global_lock:
        if _global is None:
            _global = ConsumerLagGauge()
        return _global
