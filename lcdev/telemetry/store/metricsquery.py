"""Per-route request and event figures, plus consumer lag.

Server spans give requests (route = ``http.route``, else the span name), producer and consumer
spans give events published and consumed (route = span name, ``publish orders.order-placed``).
They are tallied per minute at write time (``routestats.py``), so a question merges one row
per route and minute; ``since_ns`` counts from the start of its minute, and percentiles are
within 1% of the exact ones.

Consumer lag comes from the ``lcdev.consumer.lag`` gauge: per service, the points of its
latest export, summed over the partitions of each topic, set as ``consumer_lag`` on the
consumer row whose spans name that topic (``messaging.destination.name``), or on a row of
its own (``count`` 0, route ``process <topic>``) when nothing was consumed in the window.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from lcdev.telemetry.store.routestats import read_tallies
from lcdev.telemetry.store.rows import decode_json
from lcdev.telemetry.store.types import RouteMetrics

__all__ = ["LAG_METRIC", "route_metrics"]

LAG_METRIC = "lcdev.consumer.lag"
_TOPIC_KEY = "messaging.destination.name"


def route_metrics(conn: sqlite3.Connection, service: str | None = None,
                  since_ns: int | None = None) -> list[RouteMetrics]:
    """Rows sorted by service, kind, route."""
    result: dict[tuple[str, str, str], RouteMetrics] = {}
    topics: dict[tuple[str, str], tuple[str, str, str]] = {}  # (service, topic) -> row key
    for key, tally in read_tallies(conn, service, since_ns).items():
        result[key] = RouteMetrics(
            service=key[0], route=key[1], kind=key[2], count=tally.count, errors=tally.errors,
            p50_ms=tally.percentile_ms(0.50), p95_ms=tally.percentile_ms(0.95),
            p99_ms=tally.percentile_ms(0.99))
        if key[2] == "consumer" and tally.topic:
            topics[(key[0], tally.topic)] = key
    for (svc, topic), lag in _latest_lags(conn, service).items():
        key = topics.get((svc, topic), (svc, f"process {topic}", "consumer"))
        known = result.get(key)
        result[key] = (RouteMetrics(svc, key[1], "consumer", 0, 0, 0.0, 0.0, 0.0, lag)
                       if known is None else _with_lag(known, lag))
    return sorted(result.values(), key=lambda row: (row.service, row.kind, row.route))


def _with_lag(row: RouteMetrics, lag: float) -> RouteMetrics:
    return RouteMetrics(row.service, row.route, row.kind, row.count, row.errors, row.p50_ms,
                        row.p95_ms, row.p99_ms, lag)


def _latest_lags(conn: sqlite3.Connection, service: str | None) -> dict[tuple[str, str], float]:
    """(service, topic) -> lag summed over partitions, from each service's latest export."""
    latest = conn.execute(
        "SELECT service, max(time_ns) FROM metrics WHERE name = ? AND (? IS NULL OR service = ?) "
        "GROUP BY service", (LAG_METRIC, service, service)).fetchall()
    lags: dict[tuple[str, str], float] = defaultdict(float)
    for svc, time_ns in latest:
        for value, attributes in conn.execute(
                "SELECT value, attributes FROM metrics WHERE name = ? AND service = ? "
                "AND time_ns = ?", (LAG_METRIC, svc, time_ns)):
            topic = str(decode_json(attributes).get(_TOPIC_KEY, ""))
            lags[(svc, topic)] += value
    return dict(lags)
