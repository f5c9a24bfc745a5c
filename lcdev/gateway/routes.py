"""The gateway's route table: service prefixes to upstreams, each with its compiled policy.

Routing is by longest prefix, segment-wise (``/orders`` serves ``/orders`` and ``/orders/…``,
never ``/ordersx``). Inside a service, the most specific rule whose path template matches
decides the policy: more segments first, then literal segments before ``{params}``, then
exact rules, then rules for some methods before rules for all. No rule: the service policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lcdev.gateway.auth import Authenticator, JwksKeys, make_authenticator
from lcdev.gateway.cors import Cors
from lcdev.gateway.ratelimit import TokenBuckets
from lcdev.gateway.schema import (
    GatewayConfig,
    PolicyConfig,
    RateLimitConfig,
    RouteConfig,
    RuleConfig,
    load_config,
)

__all__ = ["Policy", "Route", "RouteTable", "Rule", "split_path"]


def split_path(path: str) -> tuple[str, ...]:
    """Path segments, without the leading empty one and a trailing slash."""
    return tuple(path.strip("/").split("/")) if path.strip("/") else ()


@dataclass(frozen=True, slots=True)
class Policy:
    """What applies to a request: who may call, how often, from which origins."""

    scope: str
    auth: Authenticator = field(default_factory=Authenticator)
    rate_limit: RateLimitConfig | None = None
    rate_scope: str = ""
    cors: Cors | None = None

    @classmethod
    def compile(cls, scope: str, service: str, config: PolicyConfig, jwks: JwksKeys) -> Policy:
        """Build the runtime objects of ``config``."""
        limit = config.rate_limit
        return cls(
            scope=scope,
            auth=make_authenticator(config.auth, service, jwks),
            rate_limit=limit,
            rate_scope=TokenBuckets.scope_key(scope, limit) if limit else "",
            cors=Cors(config.cors) if config.cors else None,
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy for the paths matching a template (a prefix unless ``exact``)."""

    segments: tuple[str | None, ...]  # None: a {param} segment
    methods: frozenset[str] | None
    exact: bool
    policy: Policy

    @classmethod
    def compile(cls, service: str, config: RuleConfig, jwks: JwksKeys) -> Rule:
        """Build a rule of ``service``."""
        segments = tuple(None if s.startswith("{") and s.endswith("}") else s
                         for s in split_path(config.path))
        methods = frozenset(m.upper() for m in config.methods) if config.methods else None
        verbs = ",".join(sorted(methods)) if methods else "*"
        scope = f"{service} {verbs} {config.path}{'' if config.exact else '*'}"
        return cls(segments, methods, config.exact,
                   Policy.compile(scope, service, config.policy, jwks))

    def sort_key(self) -> tuple[int, int, bool, bool]:
        """Most specific first (used with ``sorted``)."""
        params = sum(s is None for s in self.segments)
        return (-len(self.segments), params, not self.exact, self.methods is None)

    def matches(self, method: str, segments: tuple[str, ...]) -> bool:
        """Whether this rule applies to ``method`` on a path of ``segments``."""
        if self.methods is not None and method not in self.methods:
            return False
        if len(segments) < len(self.segments) or (self.exact
                                                  and len(segments) != len(self.segments)):
            return False
        pairs = zip(self.segments, segments, strict=False)
        return all(want is None or want == got for want, got in pairs)


@dataclass(frozen=True, slots=True)
class Route:
    """``prefix`` (``/orders``) is served by ``service`` at ``upstream`` (None: not running)."""

    service: str
    prefix: str
    upstream: str | None
    openapi: str | None = None
    policy: Policy = field(default_factory=lambda: Policy(""), compare=False, repr=False)
    rules: tuple[Rule, ...] = field(default=(), compare=False, repr=False)
    address: tuple[str, int] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def compile(cls, config: RouteConfig, jwks: JwksKeys) -> Route:
        """Build a route and its policies from its configuration."""
        name = config.service
        rules = sorted((Rule.compile(name, r, jwks) for r in config.rules), key=Rule.sort_key)
        address = None
        if config.upstream is not None:
            host, _, port = config.upstream.removeprefix("http://").rstrip("/").rpartition(":")
            address = (host.strip("[]"), int(port)) if host else (port, 80)
        return cls(name, config.prefix.rstrip("/") or "/", config.upstream, config.openapi,
                   Policy.compile(name, name, config.policy, jwks), tuple(rules), address)

    def policy_for(self, method: str, path: str) -> Policy:
        """The policy of a request for ``method`` on ``path``."""
        if self.rules:
            segments = split_path(path)
            for rule in self.rules:
                if rule.matches(method, segments):
                    return rule.policy
        return self.policy

    def describe(self) -> dict[str, object]:
        """What ``/_lcdev/routes`` shows (no secrets)."""
        return {"service": self.service, "prefix": self.prefix, "upstream": self.upstream,
                "auth": self.policy.auth.type, "rules": len(self.rules)}


class RouteTable:
    """Longest-prefix matching over the workspace's routes."""

    def __init__(self, routes: list[Route], config: GatewayConfig | None = None) -> None:
        self.routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)
        self.config = config if config is not None else GatewayConfig()
        self.prefixes = [r.prefix for r in self.routes]

    @classmethod
    def from_config(cls, config: GatewayConfig, jwks: JwksKeys | None = None) -> RouteTable:
        """Compile a validated configuration."""
        keys = jwks if jwks is not None else JwksKeys()
        return cls([Route.compile(r, keys) for r in config.routes], config)

    @classmethod
    def from_file(cls, path: Path, jwks: JwksKeys | None = None) -> RouteTable:
        """Read, validate and compile a configuration file."""
        return cls.from_config(load_config(path), jwks)

    def match(self, path: str) -> Route | None:
        """The route serving ``path``, or None."""
        for route in self.routes:
            prefix = route.prefix
            if prefix == "/" or path == prefix or (path.startswith(prefix)
                                                   and path[len(prefix)] == "/"):
                return route
        return None
