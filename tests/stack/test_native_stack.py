"""The native stack end to end: real PostgreSQL, real tansu, the real gateway and supervisor,
driven through the CLI as a user would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.conftest import run_lcdev, status_json

pytestmark = pytest.mark.stack


def _components(root: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in status_json(root)["components"]}


def _port_free(port: int) -> bool:
    return not any(
        c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN
        for c in psutil.net_connections(kind="tcp")
    )


async def _sql(url: str, query: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        if ";" in query:
            return await conn.execute(query)
        return await conn.fetch(query)
    finally:
        await conn.close()


async def _kafka_round_trip(bootstrap: str) -> bytes:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait("lcdev-test", b"hello", partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition("lcdev-test", 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        record = await asyncio.wait_for(consumer.getone(), timeout=10)
        assert record.value is not None
        return record.value
    finally:
        await consumer.stop()


def test_up_status_use_down_keeps_data_and_down_v_wipes_it(shop: Path) -> None:
    result = run_lcdev("up", "-d", "-w", str(shop))
    assert result.returncode == 0, result.stderr
    assert "stack ready" in result.stderr

    components = _components(shop)
    assert {n: c["state"] for n, c in components.items()} == {
        name: "healthy" for name in (
            "postgres", "kafka", "gateway", "orders", "payments", "inventory", "notifications")}
    assert all(psutil.pid_exists(c["pid"]) for c in components.values())
    pg_url = components["postgres"]["url"]
    asyncio.run(_sql(pg_url, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)"))

    bootstrap = components["kafka"]["url"].removeprefix("kafka://")
    assert asyncio.run(_kafka_round_trip(bootstrap)) == b"hello"

    gateway = status_json(shop)["gateway_url"]
    assert httpx.get(f"{gateway}/_lcdev/health").status_code == 200
    anonymous = httpx.get(f"{gateway}/orders/orders")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["x-request-id"]
    stock = httpx.get(f"{gateway}/inventory/stocks", params={"sku": "SKU-1"})
    assert stock.status_code == 200
    assert stock.json()["items"][0]["available"] == 100
    assert httpx.get(f"{gateway}/nowhere").status_code == 404

    again = run_lcdev("up", "-d", "-w", str(shop))
    assert again.returncode == 0
    assert "already running" in again.stderr

    logs = run_lcdev("logs", "postgres", "-w", str(shop))
    assert "ready to accept connections" in logs.stdout

    pids = [c["pid"] for c in components.values()]
    ports = [c["port"] for c in components.values()]
    down = run_lcdev("down", "-w", str(shop))
    assert down.returncode == 0, down.stderr
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert all(_port_free(port) for port in ports)
    assert run_lcdev("status", "-w", str(shop)).returncode == 1

    assert run_lcdev("up", "-d", "-w", str(shop)).returncode == 0
    rows = asyncio.run(_sql(_components(shop)["postgres"]["url"], "SELECT id FROM kept"))
    assert [r["id"] for r in rows] == [42]

    assert run_lcdev("down", "-v", "-w", str(shop)).returncode == 0
    assert not (shop / ".lcdev" / "data").exists()


def test_crashed_component_is_restarted_and_reported(shop: Path) -> None:
    assert run_lcdev("up", "-d", "-w", str(shop)).returncode == 0
    before = _components(shop)["kafka"]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    after = before
    while time.monotonic() < deadline:
        after = _components(shop)["kafka"]
        if after["state"] == "healthy" and after["pid"] not in (None, before["pid"]):
            break
        time.sleep(0.1)
    assert after["state"] == "healthy"
    assert after["restarts"] == 1
    assert after["pid"] != before["pid"]
    bootstrap = after["url"].removeprefix("kafka://")
    assert asyncio.run(_kafka_round_trip(bootstrap)) == b"hello"


def test_supervisor_killed_leaves_no_orphans_and_next_up_works(shop: Path) -> None:
    assert run_lcdev("up", "-d", "-w", str(shop)).returncode == 0
    status = status_json(shop)
    children = [c["pid"] for c in status["components"]]
    os.kill(status["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in children):
        time.sleep(0.05)
    assert not any(psutil.pid_exists(p) for p in children)
    result = run_lcdev("up", "-d", "-w", str(shop))
    assert result.returncode == 0, result.stderr


def test_second_supervisor_for_the_same_workspace_is_refused(shop: Path) -> None:
    import subprocess
    import sys

    assert run_lcdev("up", "-d", "-w", str(shop)).returncode == 0
    second = subprocess.run(
        [sys.executable, "-m", "lcdev.supervisor", "--workspace", str(shop)],
        capture_output=True, text=True, timeout=30,
    )
    assert second.returncode == 3
    assert "another supervisor already runs" in second.stderr
    assert _components(shop)["postgres"]["state"] == "healthy"


def test_status_json_has_connection_urls_and_services(shop: Path) -> None:
    assert run_lcdev("up", "-d", "-w", str(shop)).returncode == 0
    data = status_json(shop)
    assert data["running"] is True
    assert data["backend"] == "native"
    assert data["components"][0]["url"].startswith("postgresql://lcdev@127.0.0.1:")
    assert {s["name"] for s in data["services"]} == {
        "orders", "payments", "inventory", "notifications"}
    human = run_lcdev("status", "-w", str(shop))
    assert "postgres" in human.stdout
    assert "healthy" in human.stdout
    assert json.loads(run_lcdev("doctor", "--json", "-w", str(shop)).stdout)["checks"]


def test_postgres_from_the_pgserver_wheel_when_none_is_installed(shop: Path) -> None:
    """A laptop without PostgreSQL gets the binaries bundled in the pgserver wheel."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # not imported: only its files are needed
    assert spec is not None
    assert spec.origin is not None
    bundled = Path(spec.origin).parent / "pginstall" / "bin"
    env = {"LCDEV_PG_BIN_DIR": str(bundled)}
    doctor = run_lcdev("doctor", "-w", str(shop), env=env)
    assert str(bundled) in doctor.stdout
    result = run_lcdev("up", "-d", "-w", str(shop), env=env)
    assert result.returncode == 0, result.stderr
    url = _components(shop)["postgres"]["url"]
    rows = asyncio.run(_sql(url, "SHOW server_version"))
    assert rows[0]["server_version"].startswith("16")
