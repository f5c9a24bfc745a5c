"""Forwarding accepted payloads to another collector: delivered, retried, bounded, harmless."""

from __future__ import annotations

import gzip
import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson

from lcdev.telemetry.otlp.forward import Forwarder
from lcdev.telemetry.sink import MemorySink
from tests.telemetry.otlp_support import JSON, PROTOBUF, serving, span_body
from tests.telemetry.test_otlp_decode import SPEC_LOGS, SPEC_METRICS


@contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, and nobody takes it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@contextmanager
def silent_collector() -> Iterator[int]:
    """A port that accepts connections (in the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def timed_posts(client: httpx.Client, count: int) -> list[float]:
    latencies = []
    for index in range(count):
        started = time.perf_counter()
        response = client.post("/v1/traces", content=span_body([f"local {index}"]),
                               headers=PROTOBUF)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 200
    return latencies


def test_accepted_payloads_arrive_at_a_second_receiver() -> None:
    local, downstream = MemorySink(), MemorySink()
    with serving(downstream) as collector:
        forwarder = Forwarder(collector.endpoint, headers={"x-team": "shop"})
        try:
            with serving(local, forwarder) as receiver, \
                    httpx.Client(base_url=receiver.endpoint) as client:
                assert client.post("/v1/traces", content=span_body(["a", "b"]),
                                   headers=PROTOBUF).status_code == 200
                assert client.post("/v1/logs", content=orjson.dumps(SPEC_LOGS),
                                   headers=JSON).status_code == 200
                assert client.post("/v1/metrics",
                                   content=gzip.compress(orjson.dumps(SPEC_METRICS)),
                                   headers={**JSON, "content-encoding": "gzip"}).status_code == 200
                assert downstream.wait_for(
                    lambda sink: len(sink.spans) == 2 and len(sink.logs) == 1
                    and len(sink.metrics) == 5)
        finally:
            forwarder.close()
        assert collector.stats().accepted == {"traces": 1, "logs": 1, "metrics": 1}
    assert downstream.spans == local.spans
    assert downstream.logs[0].message == local.logs[0].message == "Example log record"
    assert downstream.logs[0].trace_id == local.logs[0].trace_id
    assert downstream.metrics == local.metrics
    stats = forwarder.stats()
    assert (stats.sent, stats.failed, stats.dropped, stats.pending) == (3, 0, 0, 0)


def test_a_refused_connection_is_retried_and_reported_and_local_storage_goes_on() -> None:
    local = MemorySink()
    with refusing_port() as port:
        forwarder = Forwarder(f"http://127.0.0.1:{port}", backoff_initial=0.01,
                              backoff_max=0.05)
        try:
            with serving(local, forwarder) as receiver, \
                    httpx.Client(base_url=receiver.endpoint) as client:
                latencies = timed_posts(client, 20)
                deadline = time.monotonic() + 5
                while forwarder.stats().failed < 3 and time.monotonic() < deadline:
                    time.sleep(0.01)
            stats = forwarder.stats()
        finally:
            forwarder.close(timeout=0.1)
    assert stats.failed >= 3
    assert stats.sent == 0
    assert stats.pending == 20
    assert "Connection refused" in stats.last_error
    assert len(local.spans) == 20
    assert statistics.median(latencies) < 0.05, latencies
    assert forwarder.stats().dropped == 20  # what was left when it closed


def test_a_collector_that_never_answers_never_delays_the_receiver() -> None:
    local = MemorySink()
    with silent_collector() as port:
        forwarder = Forwarder(f"http://127.0.0.1:{port}", timeout=5.0)
        try:
            with serving(local, forwarder) as receiver, \
                    httpx.Client(base_url=receiver.endpoint) as client:
                latencies = timed_posts(client, 20)
                assert forwarder.stats().pending == 20  # one stuck in flight, 19 queued
        finally:
            closing = time.perf_counter()
            forwarder.close(timeout=0.2)
            closed_after = time.perf_counter() - closing
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.05, latencies
    assert closed_after < 0.6  # close() cuts the 5 s request timeout short
    assert forwarder.stats().dropped == 20
    assert len(local.spans) == 20


def test_a_full_queue_drops_the_oldest_payloads() -> None:
    downstream = MemorySink()
    with refusing_port() as port:
        forwarder = Forwarder(f"http://127.0.0.1:{port}", max_queue=3, backoff_initial=0.02,
                              backoff_max=0.05)
        forwarder.submit("traces", span_body(["p1"]))
        deadline = time.monotonic() + 5
        while forwarder.stats().failed < 1 and time.monotonic() < deadline:
            time.sleep(0.005)  # p1 is now in flight, held for retries
        for index in range(2, 11):
            forwarder.submit("traces", span_body([f"p{index}"]))
        stats = forwarder.stats()
        assert (stats.dropped, stats.pending) == (6, 4)
    try:
        with serving(downstream, port=port):
            assert downstream.wait_for(lambda sink: len(sink.spans) == 4)
    finally:
        forwarder.close()
    assert [span.name for span in downstream.spans] == ["p1", "p8", "p9", "p10"]
    assert forwarder.stats().sent == 4


def test_a_payload_the_collector_refuses_is_given_up() -> None:
    downstream = MemorySink()
    with serving(downstream) as collector:
        forwarder = Forwarder(collector.endpoint)
        try:
            forwarder.submit("traces", b"\x0a\xff\x01")  # 400: retrying cannot help
            forwarder.submit("traces", span_body(["good"]))
            assert downstream.wait_for(lambda sink: len(sink.spans) == 1)
        finally:
            forwarder.close()
    stats = forwarder.stats()
    assert (stats.sent, stats.failed, stats.dropped) == (1, 1, 1)
    assert "400" in stats.last_error
