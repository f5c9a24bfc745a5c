"""Pure logic of the policies: rule specificity, token buckets, trace context parsing."""

from __future__ import annotations

import time

from lcdev.gateway.auth import JwksKeys
from lcdev.gateway.config import PolicyConfig, RateLimitConfig, RouteConfig, RuleConfig
from lcdev.gateway.ratelimit import TokenBuckets
from lcdev.gateway.routes import Route
from lcdev.gateway.tracing import trace_context


def _limited(requests: int) -> PolicyConfig:
    return PolicyConfig(rate_limit=RateLimitConfig(requests=requests, per_s=1))


def test_the_most_specific_rule_decides() -> None:
    rules = [
        RuleConfig(path="/orders/{id}", policy=_limited(1)),
        RuleConfig(path="/orders/{id}/cancel", policy=_limited(2)),
        RuleConfig(path="/orders/{id}/cancel", methods=["POST"], policy=_limited(3)),
        RuleConfig(path="/orders/special/cancel", policy=_limited(4)),
        RuleConfig(path="/orders/openapi.json", exact=True, policy=_limited(5)),
    ]
    route = Route.compile(RouteConfig(service="orders", prefix="/orders", rules=rules,
                                      policy=_limited(9)), JwksKeys())

    def limit(method: str, path: str) -> int | None:
        rate = route.policy_for(method, path).rate_limit
        return rate.requests if rate else None

    assert limit("GET", "/orders") == 9
    assert limit("GET", "/orders/7") == 1
    assert limit("GET", "/orders/7/lines") == 1  # a prefix
    assert limit("GET", "/orders/7/cancel") == 2
    assert limit("POST", "/orders/7/cancel") == 3
    assert limit("POST", "/orders/special/cancel") == 4  # literal segments first
    assert limit("GET", "/orders/openapi.json") == 5
    assert limit("GET", "/orders/openapi.json/x") == 1  # exact only


def test_a_bucket_refills_over_time() -> None:
    buckets = TokenBuckets()
    limit = RateLimitConfig(requests=1, per_s=0.2, burst=1)
    scope = TokenBuckets.scope_key("orders", limit)
    assert [buckets.take(scope, limit, "ip:1") for _ in range(3)] == [0, 0, 1]
    assert buckets.take(scope, limit, "ip:2") == 0  # another client, another bucket
    time.sleep(0.25)
    assert buckets.take(scope, limit, "ip:1") == 0
    assert len(buckets) == 2


def test_a_changed_limit_is_a_new_bucket() -> None:
    one, two = RateLimitConfig(requests=1, per_s=60), RateLimitConfig(requests=2, per_s=60)
    assert TokenBuckets.scope_key("orders", one) != TokenBuckets.scope_key("orders", two)


def test_a_later_traceparent_version_is_continued_as_version_00() -> None:
    context = trace_context("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
                            "a=b")
    assert context.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert context.parent_id == "00f067aa0ba902b7"
    assert context.traceparent.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert context.traceparent.endswith("-00")  # not sampled stays not sampled
    assert context.tracestate == "a=b"
