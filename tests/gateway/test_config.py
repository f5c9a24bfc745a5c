"""``build_gateway_config``: from definitions and running upstreams to the gateway's JSON."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from lcdev.definitions import ServiceDefinition, WorkspaceDefinition
from lcdev.gateway.config import build_gateway_config, parse_config, write_config
from tests.gateway.conftest import GatewayFactory, RunningGateway, Upstream

CORS = {"origins": ["http://localhost:3000"], "max_age": "10m"}


def _workspace() -> WorkspaceDefinition:
    return WorkspaceDefinition.model_validate({"name": "shop", "secrets": {
        "jwt_key": {"env": "LCDEV_TEST_JWT_KEY", "default": "dev-only-not-secret"},
        "stock_keys": {"file": "secrets/stock-keys.txt"},
        "absent": {"env": "LCDEV_TEST_UNSET_SECRET"},
    }})


def _services() -> dict[str, ServiceDefinition]:
    orders = ServiceDefinition.model_validate({
        "name": "orders",
        "entities": {"Order": {"fields": {"note": "text"}}},
        "gateway": {
            "auth": {"type": "jwt", "secret": "jwt_key", "issuer": "lcdev"},
            "rate_limit": {"requests": 100, "per": "1s", "burst": 20},
            "cors": CORS,
            "routes": [
                {"path": "/orders/{id}/cancel", "methods": ["post"],
                 "rate_limit": {"requests": 5, "per": "1m"}},
                {"path": "/orders/status", "auth": "none"},
            ],
        },
    })
    stock = ServiceDefinition.model_validate({
        "name": "stock", "kind": "process",
        "process": {"command": "serve", "openapi": "/stock/openapi.json", "health": "/healthz"},
        "gateway": {"auth": {"type": "api_key", "secret": "stock_keys", "header": "X-Key"}},
    })
    payments = ServiceDefinition.model_validate({
        "name": "payments", "gateway": {"auth": {"type": "jwt", "secret": "absent"}}})
    return {"stock": stock, "orders": orders, "payments": payments}


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("LCDEV_TEST_JWT_KEY", raising=False)
    monkeypatch.delenv("LCDEV_TEST_UNSET_SECRET", raising=False)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "stock-keys.txt").write_text(" key-a, key-b ,\n")
    upstreams = {"orders": "http://127.0.0.1:41234", "stock": None}
    return build_gateway_config(_workspace(), _services(), upstreams, tmp_path)


def test_routes_are_sorted_with_prefixes_and_upstreams(built: dict[str, Any]) -> None:
    assert dataclasses.asdict(parse_config(built)) == built  # built is what is read
    assert built["workspace"] == "shop"
    assert built["timeout_s"] == 30.0
    assert [(r["service"], r["prefix"], r["upstream"]) for r in built["routes"]] == [
        ("orders", "/orders", "http://127.0.0.1:41234"),
        ("payments", "/payments", None),
        ("stock", "/stock", None),
    ]


def test_service_policy_is_resolved_with_secret_values(built: dict[str, Any]) -> None:
    orders = built["routes"][0]
    assert orders["openapi"] == "/orders/openapi.json"
    assert orders["policy"] == {
        "auth": {"type": "jwt", "hs256_key": "dev-only-not-secret", "jwks_url": None,
                 "issuer": "lcdev", "audience": None, "header": "X-API-Key",
                 "key_sha256": [], "error": None},
        "rate_limit": {"requests": 100, "per_s": 1.0, "burst": 20},
        "cors": {"origins": ["http://localhost:3000"],
                 "methods": ["GET", "POST", "PUT", "PATCH", "DELETE"], "headers": ["*"],
                 "credentials": False, "max_age_s": 600},
    }


def test_public_and_override_rules_carry_their_whole_policy(built: dict[str, Any]) -> None:
    rules = built["routes"][0]["rules"]
    public = [(r["path"], r["methods"], r["exact"], r["policy"]["auth"]["type"])
              for r in rules if r["exact"]]
    assert public == [("/orders/openapi.json", ["GET", "HEAD"], True, "none"),
                      ("/orders/asyncapi.json", ["GET", "HEAD"], True, "none"),
                      ("/orders/_lcdev/health", ["GET", "HEAD"], True, "none")]
    cancel, status = [r for r in rules if not r["exact"]]
    assert cancel["path"] == "/orders/{id}/cancel"
    assert cancel["methods"] == ["POST"]
    assert cancel["policy"]["rate_limit"] == {"requests": 5, "per_s": 60.0, "burst": 0}
    assert cancel["policy"]["auth"]["type"] == "jwt"  # inherited from the service
    assert cancel["policy"]["cors"]["max_age_s"] == 600
    assert status["policy"]["auth"] == {**cancel["policy"]["auth"], "type": "none",
                                        "hs256_key": None, "issuer": None}
    assert status["policy"]["rate_limit"]["requests"] == 100


def test_api_keys_are_stored_as_digests(built: dict[str, Any]) -> None:
    stock = built["routes"][2]
    auth = stock["policy"]["auth"]
    assert auth["header"] == "X-Key"
    assert auth["key_sha256"] == [hashlib.sha256(b"key-a").hexdigest(),
                                  hashlib.sha256(b"key-b").hexdigest()]
    assert "key-a" not in str(built)
    assert stock["openapi"] == "/stock/openapi.json"
    assert [r["path"] for r in stock["rules"]] == ["/stock/openapi.json"]  # /healthz is not
    # below the route, so the gateway never routes it to stock anyway


def test_a_secret_without_value_makes_auth_fail_closed(built: dict[str, Any]) -> None:
    auth = built["routes"][1]["policy"]["auth"]
    assert auth["hs256_key"] is None
    assert auth["error"] == ("secret 'absent' has no value (set the environment variable"
                             " LCDEV_TEST_UNSET_SECRET)")


def test_a_built_config_is_enforced_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: Upstream,
    start_gateway: GatewayFactory,
) -> None:
    monkeypatch.setenv("LCDEV_TEST_JWT_KEY", "the-real-key-from-the-environment")
    upstreams = {"orders": upstream.url, "payments": upstream.url}
    config = build_gateway_config(_workspace(), _services(), upstreams, tmp_path)
    gateway: RunningGateway = start_gateway({"routes": []})
    write_config(gateway.config_path, config)
    gateway.wait_line(lambda line: "orders" in line["running"], kind="config_reloaded")
    now = int(time.time())
    good = jwt.encode({"sub": "a", "iss": "lcdev", "exp": now + 60},
                      "the-real-key-from-the-environment", algorithm="HS256")
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        assert client.get("/orders/orders/1").status_code == 401
        assert client.get("/orders/orders/1",
                          headers={"authorization": f"Bearer {good}"}).status_code == 200
        assert client.get("/orders/status/204").status_code == 204  # auth: none override
        assert client.get("/orders/_lcdev/health").status_code == 200  # public
        unconfigured = client.get("/payments/x")  # no value for its secret
        assert unconfigured.status_code == 503
        assert "is not configured" in unconfigured.json()["detail"]
