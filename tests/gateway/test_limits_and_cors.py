"""Rate limits (token buckets per scope and client) and CORS, through a real gateway."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import GatewayFactory, Upstream, is_problem, route

ORIGIN = "http://localhost:3000"


@pytest.fixture
def client(start_gateway: GatewayFactory, upstream: Upstream) -> Iterator[httpx.Client]:
    keys = [hashlib.sha256(k.encode()).hexdigest() for k in ("k-one", "k-two")]
    cors = {"origins": [ORIGIN], "methods": ["GET", "POST"],
            "headers": ["Authorization", "Content-Type"], "max_age_s": 600}
    cancel = {"path": "/orders/{id}/cancel", "methods": ["POST"],
              "policy": {"rate_limit": {"requests": 1, "per_s": 60}, "cors": cors}}
    gateway = start_gateway({"routes": [
        route("orders", "/orders", upstream.url, rules=[cancel], policy={
            "rate_limit": {"requests": 3, "per_s": 60, "burst": 1}, "cors": cors}),
        route("stock", "/stock", upstream.url, policy={
            "auth": {"type": "api_key", "key_sha256": keys},
            "rate_limit": {"requests": 2, "per_s": 60}}),
        route("open", "/open", upstream.url, policy={"cors": {"origins": ["*"]}}),
        route("creds", "/creds", upstream.url, policy={"cors": {
            "origins": ["*"], "credentials": True}}),
    ]})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def test_requests_over_the_limit_get_429_with_retry_after(client: httpx.Client) -> None:
    statuses = [client.get(f"/orders/{i}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 200]  # 3 requests + a burst of 1
    response = client.get("/orders/5")
    body = is_problem(response, 429)
    assert response.headers["retry-after"] == "20"  # one token per 20 s
    assert body["retry_after"] == 20
    assert body["detail"] == ("rate limit of service 'orders' exceeded (3 requests per 60 s,"
                              " burst 1); retry in 20 s")


def test_a_route_override_has_its_own_bucket(client: httpx.Client) -> None:
    assert client.post("/orders/7/cancel").status_code == 200
    assert client.post("/orders/8/cancel").status_code == 429
    assert client.get("/orders/7").status_code == 200  # the service bucket is untouched
    assert client.post("/orders/7/other").status_code == 200  # not the override's path


def test_each_api_key_has_its_own_bucket(client: httpx.Client) -> None:
    one, two = {"x-api-key": "k-one"}, {"x-api-key": "k-two"}
    assert [client.get("/stock/a", headers=one).status_code for _ in range(3)] == [
        200, 200, 429]
    assert client.get("/stock/a", headers=two).status_code == 200


def test_a_preflight_is_answered_by_the_gateway(client: httpx.Client, upstream: Upstream) -> None:
    before = len(upstream.seen)
    response = client.options("/orders/1", headers={
        "origin": ORIGIN, "access-control-request-method": "POST",
        "access-control-request-headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    assert response.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"]
    assert len(upstream.seen) == before  # never reached the service


@pytest.mark.parametrize(("headers", "detail"), [
    ({"origin": "http://evil.example", "access-control-request-method": "GET"},
     "origin 'http://evil.example' is not allowed"),
    ({"origin": ORIGIN, "access-control-request-method": "DELETE"},
     "method DELETE is not allowed from other origins (allowed: GET, POST)"),
    ({"origin": ORIGIN, "access-control-request-method": "GET",
      "access-control-request-headers": "x-secret"}, "request headers not allowed: x-secret"),
])
def test_a_preflight_outside_the_policy_is_a_403(
    client: httpx.Client, headers: dict[str, str], detail: str
) -> None:
    response = client.options("/orders/1", headers=headers)
    assert is_problem(response, 403)["detail"] == f"CORS preflight refused: {detail}"


def test_responses_carry_the_policys_cors_headers_not_the_services(client: httpx.Client) -> None:
    response = client.get("/orders/1", headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN  # not the echo's evil one
    assert response.headers["access-control-expose-headers"] == "X-Request-Id"
    refused = client.get("/orders/2", headers={"origin": "http://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


def test_errors_carry_cors_headers_too(client: httpx.Client) -> None:
    for _ in range(5):
        response = client.get("/orders/x", headers={"origin": ORIGIN})
    assert response.status_code == 429
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_any_origin_and_any_header(client: httpx.Client) -> None:
    response = client.options("/open/1", headers={
        "origin": "http://a.example", "access-control-request-method": "PUT",
        "access-control-request-headers": "x-one, x-two"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "x-one, x-two"
    assert client.get("/open/1", headers={"origin": "http://b.example"}).headers[
        "access-control-allow-origin"] == "*"


def test_credentials_echo_the_origin(client: httpx.Client) -> None:
    response = client.get("/creds/1", headers={"origin": "http://a.example"})
    assert response.headers["access-control-allow-origin"] == "http://a.example"
    assert response.headers["access-control-allow-credentials"] == "true"


def test_without_a_cors_policy_options_goes_to_the_service(client: httpx.Client) -> None:
    response = client.options("/stock/1", headers={
        "origin": ORIGIN, "access-control-request-method": "GET", "x-api-key": "k-one"})
    assert response.status_code == 200
    assert response.json()["method"] == "OPTIONS"
