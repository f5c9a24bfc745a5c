"""Consumers across reloads (real PostgreSQL and tansu): replaced only when what they do
changed, and then without losing or repeating an event published meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from lcdev.definitions import load_workspace
from lcdev.runtime.service import RuntimeOptions, ServiceRuntime
from tests.runtime.reload.workspace import TOKEN, drop_schema, wait_until

PRODUCER = """\
name: {producer}
entities:
  Order:
    fields:
      total: decimal(12, 2)!
publishes:
  OrderPlaced:
    entity: Order
    when: created
    key: order_id
    map: {{order_id: id}}
    payload:
      order_id: uuid!
      total: decimal(12, 2)!
"""

CONSUMER = """\
name: {consumer}
version: {version}
entities:
  Seen:
    fields:
      order_id: uuid!
      total: decimal(12, 2)
{seen_fields}
consumes:
  - event: OrderPlaced
    from: {producer}
    action: insert
    entity: Seen
    map: {{order_id: order_id, total: total}}
{consume_extra}
{endpoints}
"""

ENDPOINT = """\
endpoints:
  ping:
    method: POST
    path: /ping
    request: {note: text}
    publish: Pinged
publishes:
  Pinged:
    payload: {note: text}
"""


@dataclass
class Shop:
    root: Path
    producer: str
    consumer: str
    producer_client: httpx.AsyncClient
    consumer_runtime: ServiceRuntime
    consumer_client: httpx.AsyncClient

    def write_consumer(self, **fields: str) -> None:
        write_consumer(self.root, self.producer, self.consumer, **fields)

    async def reload_consumer(self) -> dict[str, object]:
        response = await self.consumer_client.post(
            "/_lcdev/reload", headers={"x-lcdev-token": TOKEN}, json={})
        assert response.status_code == 200
        answer: dict[str, object] = response.json()
        return answer


def write_consumer(root: Path, producer: str, consumer: str, *, version: str = "1.0.0",
                   seen_fields: str = "", consume_extra: str = "", endpoints: str = "") -> None:
    (root / "services" / consumer / "service.yaml").write_text(CONSUMER.format(
        consumer=consumer, producer=producer, version=version, seen_fields=seen_fields,
        consume_extra=consume_extra, endpoints=endpoints))


@asynccontextmanager
async def shop(root: Path, dsn: str, bootstrap: str) -> AsyncIterator[Shop]:
    suffix = uuid.uuid4().hex[:8]
    producer, consumer = f"rp{suffix}", f"rc{suffix}"
    (root / "lcdev.yaml").write_text("name: reload-consumers\n")
    (root / "services" / producer).mkdir(parents=True)
    (root / "services" / consumer).mkdir(parents=True)
    (root / "services" / producer / "service.yaml").write_text(
        PRODUCER.format(producer=producer))
    options = RuntimeOptions(dsn=dsn, bootstrap=bootstrap, pool_min=1, pool_max=4,
                             control_token=TOKEN)
    runtimes: list[ServiceRuntime] = []
    try:
        write_consumer(root, producer, consumer)
        loaded = load_workspace(root)
        assert loaded.ok, [str(p) for p in loaded.problems]
        for name in (producer, consumer):
            runtimes.append(ServiceRuntime(loaded, name, options))
        producer_app = await runtimes[0].start()
        consumer_app = await runtimes[1].start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=producer_app),
                                     base_url="http://p") as p_client, httpx.AsyncClient(
                transport=httpx.ASGITransport(app=consumer_app), base_url="http://c") as c_client:
            yield Shop(root, producer, consumer, p_client, runtimes[1], c_client)
    finally:
        for runtime in reversed(runtimes):
            await runtime.stop()
        await drop_schema(dsn, producer, consumer)


async def _seen(dsn: str, consumer: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(f'SELECT * FROM "{consumer}".seen')
        return rows
    finally:
        await conn.close()


def test_each_event_is_applied_once_across_a_reload_that_replaces_the_consumers(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path, pg_dsn, kafka_bootstrap) as s:
            created: list[str] = []

            async def place_orders(count: int) -> None:
                for i in range(count):
                    response = await s.producer_client.post(
                        f"/{s.producer}/orders", json={"total": f"{i}.50"})
                    assert response.status_code == 201
                    created.append(response.json()["id"])
                    await asyncio.sleep(0.005)

            placing = asyncio.create_task(place_orders(60))
            await wait_until(lambda: _more_than(pg_dsn, s.consumer, 10), 15, "first events")
            old_consumers = s.consumer_runtime.consumers
            s.write_consumer(version="1.1.0", seen_fields="      source: text",
                             consume_extra="    set: {source: v2}")
            answer = await s.reload_consumer()
            await placing
            assert answer["outcome"] == "reloaded", answer
            assert (answer["consumers"], answer["relay"]) == ("restarted", "kept")
            assert s.consumer_runtime.consumers is not old_consumers
            await wait_until(lambda: _more_than(pg_dsn, s.consumer, 59), 20, "every event")
            await asyncio.sleep(0.3)  # a duplicate would show up meanwhile
            rows = await _seen(pg_dsn, s.consumer)
            applied = [str(r["order_id"]) for r in rows]
            assert sorted(applied) == sorted(created)  # each once: none lost, none twice
            sources = {r["source"] for r in rows}
            assert sources == {None, "v2"}  # applied by the old consumers, then the new

    asyncio.run(scenario())


async def _more_than(dsn: str, consumer: str, count: int) -> bool:
    return len(await _seen(dsn, consumer)) > count


def test_consumers_and_relay_are_kept_when_what_they_do_did_not_change(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path, pg_dsn, kafka_bootstrap) as s:
            consumers, relay = s.consumer_runtime.consumers, s.consumer_runtime.relay
            s.write_consumer(version="1.0.1")
            answer = await s.reload_consumer()
            assert (answer["outcome"], answer["consumers"], answer["relay"]) == (
                "reloaded", "kept", "kept")
            assert s.consumer_runtime.consumers is consumers
            # A new published event: the consumers' writes might publish it now.
            s.write_consumer(version="1.0.2", endpoints=ENDPOINT)
            answer = await s.reload_consumer()
            assert (answer["outcome"], answer["consumers"], answer["relay"]) == (
                "reloaded", "restarted", "restarted"), answer["problems"]
            assert s.consumer_runtime.consumers is not consumers
            assert s.consumer_runtime.relay is not relay
            response = await s.producer_client.post(f"/{s.producer}/orders",
                                                    json={"total": "1.00"})
            order = response.json()["id"]
            await wait_until(lambda: _more_than(pg_dsn, s.consumer, 0), 15, "the event")
            assert [str(r["order_id"]) for r in await _seen(pg_dsn, s.consumer)] == [order]

    asyncio.run(scenario())


def test_consumers_stopped_for_a_refused_migration_consume_again(
        pg_dsn: str, kafka_bootstrap: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with shop(tmp_path, pg_dsn, kafka_bootstrap) as s:
            orders = f"/{s.producer}/orders"
            first = (await s.producer_client.post(orders, json={"total": "1.00"})).json()["id"]
            await wait_until(lambda: _more_than(pg_dsn, s.consumer, 0), 15, "the first event")
            consumers = s.consumer_runtime.consumers
            # Seen.total dropped (it has values) and no longer mapped: destructive.
            (tmp_path / "services" / s.consumer / "service.yaml").write_text(
                CONSUMER.format(consumer=s.consumer, producer=s.producer, version="2.0.0",
                                seen_fields="", consume_extra="", endpoints="")
                .replace("      total: decimal(12, 2)\n", "")
                .replace("map: {order_id: order_id, total: total}", "map: {order_id: order_id}"))
            answer = await s.reload_consumer()
            assert answer["outcome"] == "refused", answer
            assert s.consumer_runtime.consumers is consumers
            second = (await s.producer_client.post(orders, json={"total": "2.00"})).json()["id"]
            await wait_until(lambda: _more_than(pg_dsn, s.consumer, 1), 15, "the second event")
            rows = await _seen(pg_dsn, s.consumer)
            assert sorted(str(r["order_id"]) for r in rows) == sorted([first, second])

    asyncio.run(scenario())
