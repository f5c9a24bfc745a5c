"""Dead-letter codes against real PostgreSQL and tansu: each way an action gives up is stored
as its code (``no_match``, ``rejected``, ``invalid_payload``), and an existing workspace whose
``lcdev_dead_letters`` predates the column gets it from its next migration, once."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson

from lcdev.definitions import ConsumedEvent, ServiceDefinition
from lcdev.runtime.data import migrate
from lcdev.runtime.events import ActionRejected, EventConsumers, OutboxRelay, RetryPolicy
from lcdev.runtime.events.handling import DEAD_LETTER_CODES
from lcdev.runtime.problems import ProblemError
from tests.runtime.events.helpers import (
    APPLIED_TABLE,
    recording_action,
    schema_of,
    service_db,
    shop_pair,
    unique,
    wait_until,
)
from tests.runtime.events.test_consumers import publish


def test_each_way_an_action_gives_up_has_its_code(pg_dsn: str, kafka_bootstrap: str) -> None:
    calls: dict[str, int] = {}

    async def scenario() -> None:
        producer, consumer = shop_pair()
        async with service_db(pg_dsn, producer, consumer, extra=APPLIED_TABLE) as pools:
            pool, schema = pools[consumer.name], schema_of(consumer)
            record = recording_action(schema)

            async def action(conn: Any, consumed: ConsumedEvent,
                             payload: dict[str, Any]) -> None:
                total = payload["total"]
                calls[total] = calls.get(total, 0) + 1
                if total == "1.00":  # what an `update` finding no row raises (actions.py)
                    raise LookupError("no Seen matches order_id = …")
                if total == "2.00":  # a called endpoint refusing it (its business rules)
                    raise ProblemError(409, "already shipped")
                if total == "3.00":  # a value the column cannot hold (actions.py)
                    raise ActionRejected("Seen.total: cannot store 'x' as decimal")
                await record(conn, consumed, payload)

            relay = OutboxRelay(pools[producer.name], producer, kafka_bootstrap)
            await relay.start()
            consumers = EventConsumers(pool, consumer, kafka_bootstrap, action,
                                       producers=[producer],
                                       retry=RetryPolicy(attempts=2, initial=0.01))
            try:
                for total in ("1.00", "2.00", "3.00", "4.00"):
                    await publish(pools[producer.name], producer, 1, total=total)
                await consumers.start()

                async def applied() -> bool:
                    return bool(await pool.fetchval(f'SELECT count(*) FROM "{schema}".applied'))

                await wait_until(applied, 10, "the last event applied")
            finally:
                await consumers.stop()
                await relay.stop()
            letters = await pool.fetch(
                f'SELECT payload, code, attempts FROM "{schema}".lcdev_dead_letters'
                ' ORDER BY "offset"')
            found = {orjson.loads(r["payload"])["data"]["total"]: (r["code"], r["attempts"])
                     for r in letters}
            assert found == {"1.00": ("no_match", 2), "2.00": ("rejected", 1),
                             "3.00": ("invalid_payload", 1)}
            assert {code for code, _ in found.values()} <= set(DEAD_LETTER_CODES)
            assert calls == {"1.00": 2, "2.00": 1, "3.00": 1, "4.00": 1}

    asyncio.run(scenario())


def _previous_release_fingerprint(service: ServiceDefinition) -> str:
    """The schema comment a workspace migrated before ``code`` existed carries (format 1)."""
    data = service.model_dump(mode="json", include={"name", "entities"})
    digest = hashlib.sha256(orjson.dumps(["lcdev-schema-1", data],
                                         option=orjson.OPT_SORT_KEYS))
    return f"lcdev:{digest.hexdigest()}"


def test_an_existing_dead_letter_table_gets_the_code_column_once(pg_dsn: str) -> None:
    service = ServiceDefinition.model_validate({
        "name": unique("dlc"), "entities": {"Seen": {"fields": {"note": "text"}}}})
    schema = schema_of(service)
    table = f'"{schema}".lcdev_dead_letters'

    async def scenario() -> None:
        import asyncpg

        conn = await asyncpg.connect(pg_dsn)
        try:
            await migrate(pg_dsn, service)
            # as the previous release left it: no code column, its fingerprint, one letter
            await conn.execute(f"ALTER TABLE {table} DROP COLUMN code")
            await conn.execute(f"""COMMENT ON SCHEMA "{schema}" IS """
                               f"'{_previous_release_fingerprint(service)}'")
            await conn.execute(f"INSERT INTO {table} (payload, reason, attempts)"
                               " VALUES ('{}', 'action failed after 3 attempts: boom', 3)")
            upgraded = await migrate(pg_dsn, service)
            assert upgraded.path == "compared"
            assert upgraded.changes == (f"add column {schema}.lcdev_dead_letters.code",)
            assert upgraded.destructive == ()
            assert await conn.fetchval(f"SELECT code FROM {table}") == "failed"
            again = await migrate(pg_dsn, service)
            assert (again.path, again.changes) == ("up_to_date", ())
        finally:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

    asyncio.run(scenario())
