"""SQL client spans: what a statement is called, and that a traced pool makes one span per
statement only inside a recording span (never for transaction control or the pool's reset)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from lcdev.runtime.observability.sql import TracedConnection, describe_sql


@pytest.mark.parametrize(("query", "name", "table"), [
    ('SELECT "id", "total" FROM "orders"."order" WHERE "id" = $1', "SELECT order", "order"),
    ('INSERT INTO "orders"."order_line" ("id") VALUES ($1) RETURNING "id"',
     "INSERT order_line", "order_line"),
    ('UPDATE "orders"."order" SET "total" = $1 WHERE "id" = $2', "UPDATE order", "order"),
    ('DELETE FROM "orders"."order" WHERE "id" = $1 RETURNING "id"', "DELETE order", "order"),
    ('WITH row AS (INSERT INTO "orders".lcdev_outbox (id) VALUES ($1) RETURNING id)'
     " SELECT pg_notify($2, '') FROM row", "INSERT lcdev_outbox", "lcdev_outbox"),
    ('SELECT count(*) FROM (SELECT 1 FROM "s"."we""ird" LIMIT 5) AS q', 'SELECT we"ird',
     'we"ird'),
    ("  select * from plain_table", "SELECT plain_table", "plain_table"),
    ("SELECT pg_notify($1, $2)", "SELECT", None),
])
def test_a_statement_is_named_by_its_operation_and_first_table(
        query: str, name: str, table: str | None) -> None:
    described = describe_sql(query)
    assert described is not None
    assert described[0] == name
    attributes = described[1]
    assert attributes.get("db.collection.name") == table
    assert attributes["db.system"] == "postgresql"
    assert attributes["db.operation.name"] == name.split()[0]
    assert attributes["db.query.text"] == query


@pytest.mark.parametrize("query", ["BEGIN;", "COMMIT", "ROLLBACK;", "SAVEPOINT sp1",
                                   "RELEASE SAVEPOINT sp1", "", "   "])
def test_transaction_control_gets_no_span(query: str) -> None:
    assert describe_sql(query) is None


def test_a_traced_pool_makes_a_span_per_statement_inside_a_recording_span(
        spans: InMemorySpanExporter, pg_dsn: str) -> None:
    table = f"t_{uuid.uuid4().hex[:10]}"
    tracer = trace.get_tracer("test")

    async def scenario() -> None:
        pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1,
                                         connection_class=TracedConnection)
        try:
            async with pool.acquire() as conn:  # outside any span: nothing recorded
                await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
            with tracer.start_as_current_span("request"):
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(f"INSERT INTO {table} (id) VALUES ($1)", 1)
                    assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
                    assert len(await conn.fetch(f"SELECT id FROM {table}")) == 1
                    assert (await conn.fetchrow(f"SELECT id FROM {table} WHERE id = $1",
                                                1))["id"] == 1
                async with pool.acquire() as conn:
                    with pytest.raises(asyncpg.UniqueViolationError):
                        await conn.execute(f"INSERT INTO {table} (id) VALUES ($1)", 1)
        finally:
            async with pool.acquire() as conn:
                await conn.execute(f"DROP TABLE {table}")
            await pool.close()

    asyncio.run(scenario())
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.name == "request"]
    sql = [s for s in finished if s.name != "request"]
    assert [s.name for s in sql] == [f"INSERT {table}", f"SELECT {table}", f"SELECT {table}",
                                     f"SELECT {table}", f"INSERT {table}"]
    assert all(s.kind is SpanKind.CLIENT and s.parent == request.context for s in sql)
    failed = sql[-1]
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    assert all(s.status.status_code is StatusCode.UNSET for s in sql[:-1])
