"""The per-trace summary row, kept up to date as spans arrive.

Listing traces must not aggregate 100k spans per question, so each written batch folds its
spans into ``traces``: first start, last end, span count, errors, services and the root.
The root is the span without a parent; until it arrives (or when its parent lives elsewhere,
such as a caller's ``traceparent``) it is the earliest span so far, which in practice is the
one whose parent is not stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["update_trace_summaries"]

_CHUNK = 500  # trace ids per IN (...) lookup
_COLUMNS = ("trace_id, start_ns, end_ns, span_count, errors, services, root_orphan, "
            "root_start_ns, root_service, root_name, root_route, root_status, last_span_id")


@dataclass(slots=True)
class _Summary:
    start_ns: int
    end_ns: int
    span_count: int
    errors: int
    services: set[str]
    root_orphan: int
    root_start_ns: int
    root_service: str
    root_name: str
    root_route: str
    root_status: int
    last_span_id: int

    def merge(self, other: _Summary) -> None:
        self.start_ns = min(self.start_ns, other.start_ns)
        self.end_ns = max(self.end_ns, other.end_ns)
        self.span_count += other.span_count
        self.errors += other.errors
        self.services |= other.services
        self.last_span_id = max(self.last_span_id, other.last_span_id)
        if (other.root_orphan, other.root_start_ns) < (self.root_orphan, self.root_start_ns):
            self.root_orphan, self.root_start_ns = other.root_orphan, other.root_start_ns
            self.root_service, self.root_name = other.root_service, other.root_name
            self.root_route, self.root_status = other.root_route, other.root_status


def _request(name: str, attributes_json: str) -> tuple[str, int]:
    """A root request is listed by what was asked (``POST /orders/orders``), not by its
    low-cardinality span name (the gateway's ``POST /orders``, named after the route prefix),
    and with the HTTP status it got (0 when unknown)."""
    attributes = orjson.loads(attributes_json)
    method, path = attributes.get("http.request.method"), attributes.get("url.path")
    code = attributes.get("http.response.status_code")
    if isinstance(method, str) and isinstance(path, str):
        name = f"{method} {path}"
    return name, code if isinstance(code, int) else 0


def update_trace_summaries(conn: sqlite3.Connection, span_rows: Sequence[Sequence[Any]]) -> None:
    """Fold stored span rows (``spans`` column order) into their traces' summaries."""
    batch: dict[str, _Summary] = {}
    for row in span_rows:
        (row_id, trace_id, _span_id, parent, service, name, kind, start_ns, end_ns, status,
         _message, route) = row[:12]
        code = 0
        if parent == "" and kind == "server" and row[12]:
            name, code = _request(name, row[12])
        summary = _Summary(start_ns, max(start_ns, end_ns), 1, int(status == "error"),
                           {service.replace(",", ";")}, int(parent != ""), start_ns, service,
                           name, route, code, row_id)
        known = batch.get(trace_id)
        if known is None:
            batch[trace_id] = summary
        else:
            known.merge(summary)
    if not batch:
        return
    ids = list(batch)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        for stored in conn.execute(f"SELECT {_COLUMNS} FROM traces WHERE trace_id IN ({marks})",
                                   chunk):
            batch[stored[0]].merge(_from_row(stored))
    conn.executemany(f"INSERT OR REPLACE INTO traces ({_COLUMNS}) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [_to_row(trace_id, summary) for trace_id, summary in batch.items()])


def _from_row(row: Sequence[Any]) -> _Summary:
    services = {name for name in row[5].split(",") if name}
    return _Summary(row[1], row[2], row[3], row[4], services, row[6], row[7], row[8], row[9],
                    row[10], row[11], row[12])


def _to_row(trace_id: str, summary: _Summary) -> tuple[Any, ...]:
    services = "," + ",".join(sorted(summary.services)) + ","
    return (trace_id, summary.start_ns, summary.end_ns, summary.span_count, summary.errors,
            services, summary.root_orphan, summary.root_start_ns, summary.root_service,
            summary.root_name, summary.root_route, summary.root_status, summary.last_span_id)
