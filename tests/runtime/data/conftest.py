"""A migrated test shop per test module (its own schema in the session's PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from lcdev.definitions import ServiceDefinition
from lcdev.runtime.data import migrate
from tests.runtime.data.helpers import shop


@pytest.fixture(scope="module")
def shop_service(pg_dsn: str) -> ServiceDefinition:
    """The test shop, migrated into a schema of its own."""
    service = shop()
    asyncio.run(migrate(pg_dsn, service))
    return service
