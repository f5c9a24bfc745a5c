"""The supervisor's TelemetryHub: the receiver's port, the OTEL_* environment, lines and events
into a real store, a real OTLP export into the same store, and ``down -v`` wiping it."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from lcdev.backends.base import BackendError
from lcdev.core.events import ComponentCrashed, LogLineEmitted, StackReady
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions.workspace import WorkspaceTelemetry
from lcdev.supervisor.telemetry import TelemetryHub
from lcdev.telemetry.store import LogQuery, TelemetryStore


def _hub(tmp_path: Path, **settings: object) -> TelemetryHub:
    return TelemetryHub(WorkspaceLayout(tmp_path), WorkspaceTelemetry.model_validate(settings),
                        "shop")


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_an_explicit_port_that_is_taken_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        hub = _hub(tmp_path, port=port)
        with pytest.raises(BackendError, match=f"telemetry.port {port} is in use") as caught:
            hub.reserve_port()
        assert "0 picks a free one" in caught.value.hint


def test_the_default_port_falls_back_to_a_free_one_when_taken(tmp_path: Path) -> None:
    with _listening() as other:
        taken = other.getsockname()[1]
        # as if the default 4318 were taken: the port is not one the user set
        settings = WorkspaceTelemetry.model_construct(_fields_set=set(), port=taken)
        hub = TelemetryHub(WorkspaceLayout(tmp_path), settings, "shop")
        try:
            hub.reserve_port()
            assert hub.port not in (0, taken)
        finally:
            asyncio.run(hub.close(wipe=False))


def test_every_process_gets_the_standard_otel_environment(tmp_path: Path) -> None:
    hub = _hub(tmp_path, port=0)
    hub.reserve_port()
    try:
        env = hub.env("orders")
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{hub.port}"
        assert env["OTEL_SERVICE_NAME"] == "orders"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_RESOURCE_ATTRIBUTES"] == "service.namespace=shop"
        assert "LCDEV_OTLP_ENCODING" not in env  # user code keeps the standard settings
        own = hub.env("orders", lcdev_process=True)
        assert own["LCDEV_OTLP_ENCODING"] == "json"
        assert own["LCDEV_TRACES_PER_SECOND"] == "100"
    finally:
        asyncio.run(hub.close(wipe=False))


def test_disabled_telemetry_gives_no_environment_and_no_receiver(tmp_path: Path) -> None:
    hub = _hub(tmp_path, enabled=False)
    hub.reserve_port()
    assert hub.port == 0
    assert hub.env("orders") == {}


def _stored(root: Path, **query: object) -> list[str]:
    with TelemetryStore.open(WorkspaceLayout(root).telemetry_db, readonly=True) as store:
        return [f"{r.service}|{r.level}|{r.message}"
                for r in store.query_logs(LogQuery(**query))]  # type: ignore[arg-type]


def test_lines_and_the_supervisors_own_events_land_in_the_store(tmp_path: Path) -> None:
    hub = _hub(tmp_path, port=0)
    hub.open_store()
    hub.line("postgres", "stderr", "2026-11-22 16:00:00.123 UTC [7] ERROR:  relation missing")
    hub.line("orders", "stdout", '{"level":"warn","msg":"slow query","service":"orders"}')
    hub.event(ComponentCrashed(name="orders", exit_code=1, restart_in=0.5, last_lines=[]))
    hub.event(LogLineEmitted(source="orders", stream="stdout", text="not twice"))
    hub.event(StackReady(seconds=1.2, gateway_url="http://127.0.0.1:8800"))
    asyncio.run(hub.close(wipe=False))
    assert _stored(tmp_path) == [
        "postgres|error|relation missing",
        "orders|warn|slow query",
        "lcdev|error|orders exited with code 1; restarting in 0.5 s",
        "lcdev|info|stack ready in 1.20 s",
    ]


def _export_request(trace_id: bytes) -> bytes:
    now = time.time_ns()
    span = Span(trace_id=trace_id, span_id=bytes.fromhex("00f067aa0ba902b7"),
                name="charge card", kind=Span.SPAN_KIND_INTERNAL,
                start_time_unix_nano=now, end_time_unix_nano=now + 1_000_000)
    resource_spans = ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])
    resource_spans.resource.attributes.append(
        KeyValue(key="service.name", value=AnyValue(string_value="billing")))
    return ExportTraceServiceRequest(resource_spans=[resource_spans]).SerializeToString()


def test_spans_sent_to_the_receiver_land_in_the_store_and_down_v_wipes_it(
    tmp_path: Path,
) -> None:
    trace_id = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")

    async def scenario() -> None:
        hub = _hub(tmp_path, port=0)
        hub.reserve_port()
        hub.open_store()
        await hub.start_receiver()
        assert hub.status()["otlp_endpoint"] == f"http://127.0.0.1:{hub.port}"
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"http://127.0.0.1:{hub.port}/v1/traces", content=_export_request(trace_id),
                headers={"content-type": "application/x-protobuf"})
        assert response.status_code == 200
        await hub.close(wipe=False)
        with TelemetryStore.open(WorkspaceLayout(tmp_path).telemetry_db,
                                 readonly=True) as store:
            detail = store.get_trace(trace_id.hex())
        assert detail is not None
        assert [(s.service, s.name) for s in detail.spans] == [("billing", "charge card")]

        again = _hub(tmp_path, port=0)
        again.open_store()
        await again.close(wipe=True)

    asyncio.run(scenario())
    assert not WorkspaceLayout(tmp_path).telemetry_dir.exists()


def test_everything_received_is_also_forwarded_to_an_external_collector(
    tmp_path: Path,
) -> None:
    from lcdev.telemetry.otlp.receiver import OtlpReceiver
    from lcdev.telemetry.sink import MemorySink

    trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")

    async def scenario() -> None:
        collector_sink = MemorySink()
        collector = OtlpReceiver(port=0, sink=collector_sink)  # "Jaeger"
        await collector.start()
        hub = _hub(tmp_path, port=0, forward=f"http://127.0.0.1:{collector.port}",
                   forward_headers={"x-api-key": "k"})
        hub.reserve_port()
        hub.open_store()
        await hub.start_receiver()
        try:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"http://127.0.0.1:{hub.port}/v1/traces",
                    content=_export_request(trace_id),
                    headers={"content-type": "application/x-protobuf"})
            assert response.status_code == 200
            arrived = await asyncio.to_thread(
                collector_sink.wait_for, lambda sink: bool(sink.spans), 5.0)
            assert arrived, hub.status()
            assert [s.trace_id for s in collector_sink.spans] == [trace_id.hex()]
            assert hub.status()["forward"]["endpoint"] == f"http://127.0.0.1:{collector.port}"
        finally:
            await hub.close(wipe=False)
            await collector.stop()

    asyncio.run(scenario())


def test_a_one_megabyte_line_and_binary_output_are_stored_safely(tmp_path: Path) -> None:
    hub = _hub(tmp_path, port=0)
    hub.open_store()
    hub.line("blob", "stdout", "x" * 1_048_576)
    hub.line("blob", "stdout", "\x00\x01binary\x1b[31m\udcff")
    asyncio.run(hub.close(wipe=False))
    with TelemetryStore.open(WorkspaceLayout(tmp_path).telemetry_db, readonly=True) as store:
        long, binary = store.query_logs(LogQuery(services=("blob",)))
    assert len(long.message) < 1_048_576
    assert long.attributes["lcdev.truncated_chars"] == 1_048_576 - len(long.message)
    assert "binary" in binary.message
    assert "\x00" not in binary.message
