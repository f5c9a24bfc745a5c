"""The four services of the shop scaffold, loaded from their service.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from lcdev.definitions import ServiceDefinition, load_model

SHOP = Path(__file__).resolve().parents[3] / "scaffolds" / "workspace-shop" / "services"
SHOP_SERVICES = ("orders", "inventory", "payments", "notifications")


def load_shop_service(name: str) -> ServiceDefinition:
    service, problems = load_model(SHOP / name / "service.yaml", ServiceDefinition)
    assert service is not None, problems
    return service


@pytest.fixture(scope="session")
def shop() -> dict[str, ServiceDefinition]:
    return {name: load_shop_service(name) for name in SHOP_SERVICES}
