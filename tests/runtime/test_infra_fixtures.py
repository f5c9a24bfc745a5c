"""The shared infrastructure fixtures really start PostgreSQL and tansu."""

from __future__ import annotations

import asyncio

import asyncpg


def test_postgres_fixture_answers_sql(pg_dsn: str) -> None:
    async def query() -> int:
        conn = await asyncpg.connect(pg_dsn)
        try:
            return int(await conn.fetchval("SELECT 40 + 2"))
        finally:
            await conn.close()

    assert asyncio.run(query()) == 42


def test_kafka_fixture_answers_metadata(kafka_bootstrap: str) -> None:
    from aiokafka.client import AIOKafkaClient

    async def brokers() -> int:
        client = AIOKafkaClient(bootstrap_servers=kafka_bootstrap)
        await client.bootstrap()
        try:
            return len(client.cluster.brokers())
        finally:
            await client.close()

    assert asyncio.run(brokers()) == 1
