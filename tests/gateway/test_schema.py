"""Reading the configuration file: defaults, and a precise message for every kind of mistake."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from lcdev.gateway.schema import (
    AuthConfig,
    ConfigError,
    GatewayConfig,
    RouteConfig,
    load_config,
    parse_config,
)

FULL: dict[str, Any] = {
    "workspace": "shop", "public_url": "http://localhost:8800", "timeout_s": 5,
    "connect_timeout_s": 0.5,
    "routes": [{
        "service": "orders", "prefix": "/orders", "upstream": "http://127.0.0.1:9001",
        "openapi": "/orders/openapi.json",
        "policy": {
            "auth": {"type": "api_key", "header": "X-Key", "key_sha256": ["ab" * 32]},
            "rate_limit": {"requests": 10, "per_s": 1, "burst": 2},
            "cors": {"origins": ["*"], "max_age_s": 60},
        },
        "rules": [{"path": "/orders/{id}", "methods": ["POST"], "exact": True,
                   "policy": {"rate_limit": None, "cors": None}}],
    }],
}


def test_a_minimal_file_gets_every_default() -> None:
    config = parse_config({"workspace": "shop", "routes": [
        {"service": "orders", "prefix": "/orders", "upstream": None}]})
    assert config == GatewayConfig(workspace="shop", routes=[
        RouteConfig(service="orders", prefix="/orders")])
    assert config.routes[0].policy.auth == AuthConfig()
    assert config.timeout_s == 30.0


def test_a_full_file_reads_back_as_written() -> None:
    config = parse_config(FULL)
    assert config.routes[0].policy.cors is not None
    assert config.routes[0].policy.cors.methods == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert config.timeout_s == 5.0
    again = dataclasses.asdict(config)
    assert parse_config(json.loads(json.dumps(again))) == config


def _with(path: str, value: Any) -> dict[str, Any]:
    """``FULL`` with the value at ``path`` (dots and list indexes) replaced; None: deleted."""
    data: Any = json.loads(json.dumps(FULL))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = data
    for key in parents:
        node = node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return data  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "value", "message"), [
    ("colour", "blue", "colour: unknown key (known: workspace, public_url, timeout_s,"),
    ("timeout_s", "30", "timeout_s: must be a number > 0, found '30'"),
    ("connect_timeout_s", 0, "connect_timeout_s: must be a number > 0, found 0"),
    ("routes", {}, "routes: must be a list, found {}"),
    ("routes.0.prefix", None, "routes[0].prefix: is required"),
    ("routes.0.service", 7, "routes[0].service: must be a string, found 7"),
    ("routes.0.upstream", "http://h:1/api", "routes[0].upstream: upstream must look like"),
    ("routes.0.policy.auth.type", "oauth", "routes[0].policy.auth.type: must be 'none' or"),
    ("routes.0.policy.auth.key_sha256", "ab", "key_sha256: must be a list of strings"),
    ("routes.0.policy.rate_limit.requests", 0, "requests: must be a whole number ≥ 1"),
    ("routes.0.policy.rate_limit.burst", True, "burst: must be a whole number ≥ 0"),
    ("routes.0.policy.rate_limit.per_s", None, "routes[0].policy.rate_limit.per_s: is required"),
    ("routes.0.policy.cors.origins", [], "origins: must be a non-empty list of strings"),
    ("routes.0.policy.cors.credentials", "yes", "credentials: must be true or false"),
    ("routes.0.rules.0", "/orders", "routes[0].rules[0]: must be an object, found a string"),
    ("routes.0.rules.0.exact", 1, "routes[0].rules[0].exact: must be true or false"),
])
def test_a_mistake_is_named_with_its_place(path: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(_with(path, value))
    assert message in str(error.value)


def test_a_file_that_is_not_json_says_so(tmp_path: Path) -> None:
    path = tmp_path / "gateway.json"
    path.write_text('{"routes": [}')
    with pytest.raises(ConfigError, match=r"Invalid JSON in .*gateway.json: .*line 1, column 13"):
        load_config(path)
    path.write_text("[]")
    with pytest.raises(ConfigError, match="gateway.json: the configuration: must be an object"):
        load_config(path)
