"""Authentication at the gateway: JWT with an HS256 key or a JWKS, API keys, public routes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.gateway.conftest import GatewayFactory, RunningGateway, Upstream, is_problem, route

KEY = "a-development-key-of-32-bytes-at-least"


def token(key: Any = KEY, algorithm: str = "HS256", headers: dict[str, Any] | None = None,
          **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "iat": now, "exp": now + 60, **claims}, key,
                      algorithm=algorithm, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


@pytest.fixture
def client(start_gateway: GatewayFactory, upstream: Upstream) -> Iterator[httpx.Client]:
    public = {"path": "/orders/openapi.json", "methods": ["GET", "HEAD"], "exact": True,
              "policy": {}}
    keys = [hashlib.sha256(k.encode()).hexdigest() for k in ("k-one", "k-two")]
    gateway = start_gateway({"routes": [
        route("orders", "/orders", upstream.url, rules=[public],
              policy={"auth": {"type": "jwt", "hs256_key": KEY}}),
        route("audited", "/audited", upstream.url, policy={"auth": {
            "type": "jwt", "hs256_key": KEY, "issuer": "lcdev", "audience": "shop"}}),
        route("stock", "/stock", upstream.url,
              policy={"auth": {"type": "api_key", "key_sha256": keys}}),
        route("broken", "/broken", upstream.url, policy={"auth": {
            "type": "jwt", "error": "secret 'jwt_key' has no value (set SHOP_KEY)"}}),
    ]})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def test_a_valid_token_passes_and_reaches_the_service(
    client: httpx.Client, upstream: Upstream
) -> None:
    value = token()
    response = client.get("/orders/1", headers=bearer(value))
    assert response.status_code == 200
    assert upstream.seen[-1]["authorization"] == f"Bearer {value}"


def test_a_missing_token_is_a_401_with_a_challenge(client: httpx.Client) -> None:
    response = client.get("/orders/1")
    body = is_problem(response, 401)
    assert body["detail"] == "missing bearer token (Authorization: Bearer <JWT>)"
    assert body["service"] == "orders"
    assert response.headers["www-authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize(("value", "detail"), [
    (token(exp=int(time.time()) - 10), "the token has expired"),
    # made when the tests are collected, minutes before this one runs: a day ahead
    (token(nbf=int(time.time()) + 86_400), "the token is not valid yet (nbf)"),
    (token(key="another-key-that-is-long-enough-too"), "the token's signature is invalid"),
    ("not.a.jwt", "the token is malformed"),
])
def test_a_bad_token_is_a_401_saying_why(client: httpx.Client, value: str, detail: str) -> None:
    response = client.get("/orders/1", headers=bearer(value))
    assert is_problem(response, 401)["detail"] == detail
    challenge = response.headers["www-authenticate"]
    assert challenge == (f'Bearer realm="orders", error="invalid_token", '
                         f'error_description="{detail}"')


def test_a_token_without_signature_is_refused(client: httpx.Client) -> None:
    unsigned = jwt.encode({"sub": "mallory"}, "", algorithm="none")
    assert client.get("/orders/1", headers=bearer(unsigned)).status_code == 401


def test_issuer_and_audience_are_checked_when_configured(client: httpx.Client) -> None:
    good = token(iss="lcdev", aud="shop")
    assert client.get("/audited/x", headers=bearer(good)).status_code == 200
    wrong_issuer = client.get("/audited/x", headers=bearer(token(iss="evil", aud="shop")))
    assert is_problem(wrong_issuer, 401)["detail"] == "the token's issuer (iss) is not accepted"
    wrong_audience = client.get("/audited/x", headers=bearer(token(iss="lcdev", aud="other")))
    assert "audience" in is_problem(wrong_audience, 401)["detail"]


def test_public_routes_need_no_token(client: httpx.Client) -> None:
    assert client.get("/orders/openapi.json").status_code in (200, 404)  # reached the service
    assert client.get("/orders/openapi.json/more").status_code == 401  # exact match only
    assert client.post("/orders/openapi.json").status_code == 401  # GET and HEAD only


def test_api_keys_are_checked(client: httpx.Client) -> None:
    assert client.get("/stock/1", headers={"x-api-key": "k-two"}).status_code == 200
    missing = client.get("/stock/1")
    assert is_problem(missing, 401)["detail"] == "missing API key (header X-API-Key)"
    assert missing.headers["www-authenticate"] == 'ApiKey realm="stock", header="X-API-Key"'
    wrong = client.get("/stock/1", headers={"x-api-key": "k-three"})
    assert is_problem(wrong, 401)["detail"] == "the API key in X-API-Key is not valid"


def test_auth_that_cannot_work_is_a_503_naming_the_cause(client: httpx.Client) -> None:
    body = is_problem(client.get("/broken/1", headers=bearer(token())), 503)
    assert body["detail"] == ("authentication for service 'broken' is not configured:"
                              " secret 'jwt_key' has no value (set SHOP_KEY)")


@pytest.fixture
def jwks_gateway(start_gateway: GatewayFactory, upstream: Upstream) -> RunningGateway:
    return start_gateway({"routes": [route("orders", "/orders", upstream.url, policy={"auth": {
        "type": "jwt", "jwks_url": f"{upstream.url}/keys/jwks.json"}})]})


def _rsa_key(upstream: Upstream, kid: str) -> rsa.RSAPrivateKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    upstream.jwks = {"keys": [*upstream.jwks["keys"], {**public, "kid": kid, "use": "sig"}]}
    return private


def test_jwks_tokens_are_verified_with_the_fetched_keys(
    jwks_gateway: RunningGateway, upstream: Upstream
) -> None:
    private = _rsa_key(upstream, "key-1")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with httpx.Client(base_url=jwks_gateway.url, timeout=10) as client:
        good = token(private, "RS256", {"kid": "key-1"})
        assert client.get("/orders/1", headers=bearer(good)).status_code == 200
        assert client.get("/orders/2", headers=bearer(good)).status_code == 200  # cached
        forged = token(other, "RS256", {"kid": "key-1"})
        assert is_problem(client.get("/orders/1", headers=bearer(forged)), 401)["detail"] == (
            "the token's signature is invalid")
        hs = token(KEY, "HS256", {"kid": "key-1"})  # algorithm confusion is refused
        assert client.get("/orders/1", headers=bearer(hs)).status_code == 401
        unknown = client.get("/orders/1", headers=bearer(token(other, "RS256",
                                                               {"kid": "nope"})))
        assert "no signing key" in is_problem(unknown, 401)["detail"]


@pytest.mark.parametrize(("path", "detail"), [
    ("/orders/status/404", "could not be fetched"),  # HTTP 404
    ("/orders/not-a-key-set", "are unusable"),  # some JSON that is no JWKS
])
def test_a_jwks_that_cannot_be_used_is_a_503(start_gateway: GatewayFactory,
                                             upstream: Upstream, path: str, detail: str) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    gateway = start_gateway({"routes": [route("orders", "/orders", upstream.url, policy={
        "auth": {"type": "jwt", "jwks_url": f"{upstream.url}{path}"}})]})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        response = client.get("/orders/1", headers=bearer(token(private, "RS256",
                                                                {"kid": "k"})))
    assert detail in is_problem(response, 503)["detail"]
