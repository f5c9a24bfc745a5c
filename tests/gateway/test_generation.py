"""The configuration's ``generation``: read from the file, written by the builder, answered by
``/_lcdev/health`` once the gateway serves it (how a reload knows its routes are live)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from lcdev.definitions import WorkspaceDefinition
from lcdev.gateway.config import (
    ConfigError,
    build_gateway_config,
    load_config,
    parse_config,
    write_config,
)
from lcdev.gateway.schema import GatewayConfig
from tests.gateway.conftest import GatewayFactory, RunningGateway, Upstream, route


def test_generation_is_zero_when_absent() -> None:
    assert parse_config({"routes": []}).generation == 0
    assert GatewayConfig().generation == 0


def test_generation_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    write_config(path, {"routes": [], "generation": 7})
    assert load_config(path).generation == 7


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_a_generation_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"^generation: must be a whole number ≥ 0, found "):
        parse_config({"routes": [], "generation": bad})


def test_the_builder_writes_the_generation(tmp_path: Path) -> None:
    workspace = WorkspaceDefinition.model_validate({"name": "shop"})
    assert build_gateway_config(workspace, {}, {}, tmp_path)["generation"] == 0
    built = build_gateway_config(workspace, {}, {}, tmp_path, generation=3)
    assert built["generation"] == 3
    assert parse_config(built).generation == 3  # what the builder writes, the gateway reads


def _reload(gateway: RunningGateway) -> None:
    """What SIGHUP does in the gateway process, in the gateway's own event loop."""
    async def reload() -> None:
        gateway.server.reload()

    asyncio.run_coroutine_threadsafe(reload(), gateway.loop).result(5)


def test_health_answers_the_generation_served_after_each_reload(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    routes: list[dict[str, Any]] = [route("orders", "/orders", upstream.url)]
    # the file is polled only every minute here: what changes the answer is reload()
    gateway = start_gateway({"routes": routes, "generation": 1}, reload_interval_s=60)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        assert client.get("/_lcdev/health").json() == {
            "status": "ok", "routes": 1, "generation": 1}
        write_config(gateway.config_path, {
            "routes": [*routes, route("payments", "/payments", upstream.url)],
            "generation": 2})
        assert client.get("/_lcdev/health").json()["generation"] == 1  # not re-read yet
        _reload(gateway)
        assert client.get("/_lcdev/health").json() == {
            "status": "ok", "routes": 2, "generation": 2}
        assert client.get("/payments/1").status_code == 200


def test_a_broken_rewrite_keeps_the_generation_served(
    start_gateway: GatewayFactory, upstream: Upstream
) -> None:
    gateway = start_gateway({"routes": [route("orders", "/orders", upstream.url)],
                             "generation": 4}, reload_interval_s=60)
    gateway.config_path.write_text('{"routes": [], "generation": "five"}')
    _reload(gateway)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        assert client.get("/_lcdev/health").json()["generation"] == 4
    assert "generation: must be a whole number" in gateway.lines("config_error")[0]["error"]
