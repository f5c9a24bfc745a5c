"""The OTLP/HTTP receiver over real HTTP: answers, refusals, limits, start and stop."""

from __future__ import annotations

import asyncio
import gzip
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence

import httpx
import orjson
import pytest

from lcdev.telemetry.otlp.receiver import OtlpReceiver
from lcdev.telemetry.records import SpanRecord
from lcdev.telemetry.sink import MemorySink
from tests.telemetry.otlp_support import (
    GZIP_PROTOBUF,
    JSON,
    PROTOBUF,
    serving,
    span_body,
)
from tests.telemetry.test_otlp_decode import SPEC_LOGS, SPEC_METRICS, SPEC_TRACES


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def receiver(sink: MemorySink) -> Iterator[OtlpReceiver]:
    with serving(sink) as running:
        yield running


@pytest.fixture
def client(receiver: OtlpReceiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.endpoint, timeout=10) as http:
        yield http


def test_protobuf_export_is_stored_and_answered_in_protobuf(
    client: httpx.Client, receiver: OtlpReceiver, sink: MemorySink
) -> None:
    response = client.post("/v1/traces", content=span_body(["a", "b", "c"]), headers=PROTOBUF)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert response.content == b""  # an empty ExportTraceServiceResponse: full success
    assert [span.name for span in sink.spans] == ["a", "b", "c"]
    stats = receiver.stats()
    assert stats.accepted == {"traces": 1, "logs": 0, "metrics": 0}
    assert stats.items["traces"] == 3
    assert stats.rejected == 0
    assert stats.last_error == ""


def test_json_exports_of_every_signal(
    client: httpx.Client, receiver: OtlpReceiver, sink: MemorySink
) -> None:
    for path, document in (("/v1/traces", SPEC_TRACES), ("/v1/logs", SPEC_LOGS),
                           ("/v1/metrics", SPEC_METRICS)):
        response = client.post(path, content=orjson.dumps(document), headers=JSON)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {}
    assert [span.trace_id for span in sink.spans] == ["5b8efff798038103d269b633813fc60c"]
    assert [log.message for log in sink.logs] == ["Example log record"]
    assert len(sink.metrics) == 5
    assert receiver.stats().accepted == {"traces": 1, "logs": 1, "metrics": 1}


def test_gzip_bodies(client: httpx.Client, sink: MemorySink) -> None:
    response = client.post("/v1/traces", content=gzip.compress(span_body(["zipped"])),
                           headers=GZIP_PROTOBUF)
    assert response.status_code == 200
    response = client.post("/v1/logs", content=gzip.compress(orjson.dumps(SPEC_LOGS)),
                           headers={**JSON, "content-encoding": "gzip"})
    assert response.status_code == 200
    assert [span.name for span in sink.spans] == ["zipped"]
    assert len(sink.logs) == 1


def test_a_large_export_is_decoded_off_the_loop_and_stored(
    client: httpx.Client, sink: MemorySink
) -> None:
    body = span_body([f"span {i}" for i in range(2000)])
    assert len(body) > 500_000
    assert client.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 200
    assert len(sink.spans) == 2000


@pytest.mark.parametrize(("path", "body", "content_type", "detail"), [
    ("/v1/traces", b"\x0a\xff\x01", "application/x-protobuf", "invalid OTLP protobuf"),
    ("/v1/logs", b'{"resourceLogs": 7}', "application/json", "invalid OTLP JSON"),
    ("/v1/metrics", b"{", "application/json", "invalid JSON"),
])
def test_malformed_payloads_are_400_problems_counted_and_survived(
    client: httpx.Client, receiver: OtlpReceiver, sink: MemorySink,
    path: str, body: bytes, content_type: str, detail: str,
) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Bad Request"
    assert problem["status"] == 400
    assert detail in problem["detail"]
    stats = receiver.stats()
    assert stats.rejected == 1
    assert detail in stats.last_error
    assert path in stats.last_error
    assert sink.spans == []
    assert sink.logs == []
    assert sink.metrics == []

    again = client.post("/v1/traces", content=span_body(["after"]), headers=PROTOBUF)
    assert again.status_code == 200
    assert [span.name for span in sink.spans] == ["after"]


@pytest.mark.parametrize("headers", [
    {"content-type": "text/plain"}, {}, {"content-type": "application/xml"},
    {**PROTOBUF, "content-encoding": "br"},
])
def test_unsupported_content_types_and_encodings_are_415(
    client: httpx.Client, receiver: OtlpReceiver, headers: dict[str, str]
) -> None:
    response = client.post("/v1/traces", content=span_body(["x"]), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 415
    assert receiver.stats().rejected == 1


def test_bodies_over_the_limit_are_413(sink: MemorySink) -> None:
    with serving(sink, max_body_bytes=2000) as receiver, \
            httpx.Client(base_url=receiver.endpoint) as client:
        big = span_body([f"span {i}" for i in range(50)])
        assert len(big) > 2000
        response = client.post("/v1/traces", content=big, headers=PROTOBUF)
        assert response.status_code == 413
        assert "2000 bytes" in response.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
            yield big[:1000]
            yield big[1000:]

        response = client.post("/v1/traces", content=chunks(), headers=PROTOBUF)
        assert response.status_code == 413
        assert receiver.stats().rejected == 2
        assert client.post("/v1/traces", content=span_body(["ok"]),
                           headers=PROTOBUF).status_code == 200
    assert [span.name for span in sink.spans] == ["ok"]


def test_a_gzip_bomb_is_413(sink: MemorySink) -> None:
    bomb = gzip.compress(b"\0" * 1_000_000)
    with serving(sink, max_body_bytes=2000) as receiver, \
            httpx.Client(base_url=receiver.endpoint) as client:
        assert len(bomb) < 2000
        response = client.post("/v1/traces", content=bomb, headers=GZIP_PROTOBUF)
    assert response.status_code == 413
    assert "decompressed" in response.json()["detail"]


def test_a_taken_port_is_a_clear_oserror_and_stop_frees_the_port() -> None:
    async def scenario() -> None:
        first = OtlpReceiver(sink=MemorySink())
        await first.start()
        assert first.port > 0
        second = OtlpReceiver("127.0.0.1", first.port, sink=MemorySink())
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            await second.start()
        await first.stop()
        with socket.socket() as probe:  # the port is free again
            probe.bind(("127.0.0.1", first.port))
        await second.start()
        try:
            assert second.port == first.port
        finally:
            await second.stop()

    asyncio.run(scenario())


class BrokenSink(MemorySink):
    """A sink whose spans store has failed."""

    def add_spans(self, records: Sequence[SpanRecord]) -> None:
        raise RuntimeError("disk full")


def test_a_failing_sink_is_a_500_problem_and_the_receiver_goes_on() -> None:
    sink = BrokenSink()
    with serving(sink) as receiver, httpx.Client(base_url=receiver.endpoint) as client:
        response = client.post("/v1/traces", content=span_body(["x"]), headers=PROTOBUF)
        assert response.status_code == 500
        assert response.json()["detail"] == "RuntimeError: disk full"
        assert client.post("/v1/logs", content=orjson.dumps(SPEC_LOGS),
                           headers=JSON).status_code == 200
        stats = receiver.stats()
    assert stats.rejected == 1
    assert stats.accepted["logs"] == 1
    assert len(sink.logs) == 1


def test_the_package_exports_lazily() -> None:
    program = (
        "import sys\n"
        "from lcdev.telemetry.otlp import Forwarder\n"
        "assert not {'starlette', 'uvicorn', 'google.protobuf'} & set(sys.modules), 'heavy'\n"
        "from lcdev.telemetry.otlp import OtlpReceiver, decode_traces\n"
        "assert 'uvicorn' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_serving_on_a_socket_reserved_by_the_caller() -> None:
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    reserved.listen()
    port = reserved.getsockname()[1]
    sink = MemorySink()

    async def scenario() -> None:
        receiver = OtlpReceiver(sink=sink, sock=reserved)
        await receiver.start()
        try:
            assert receiver.port == port
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                response = await client.post("/v1/traces", content=span_body(["reserved"]),
                                             headers=PROTOBUF)
            assert response.status_code == 200
        finally:
            await receiver.stop()

    asyncio.run(scenario())
    assert reserved.fileno() == -1  # the receiver closed it on stop
    assert [span.name for span in sink.spans] == ["reserved"]
