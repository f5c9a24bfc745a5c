"""The gateway's configuration as the gateway process reads it: plain dataclasses, checked by hand.

The file is JSON written by the supervisor (``builder.py``), so the checks are few and cheap,
but a hand-edited or stale file gets a precise message naming the key, e.g.
``routes[0].policy.rate_limit.per_s: must be a number > 0, found 0``. Unknown keys are errors.
Reading it needs nothing but the standard library: the gateway starts without importing
pydantic or the definitions model (see docs/gateway.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "AuthConfig",
    "ConfigError",
    "CorsConfig",
    "GatewayConfig",
    "PolicyConfig",
    "RateLimitConfig",
    "RouteConfig",
    "RuleConfig",
    "load_config",
    "parse_config",
]

AuthType = Literal["none", "jwt", "api_key"]
_AUTH_TYPES: tuple[AuthType, ...] = ("none", "jwt", "api_key")
_CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class ConfigError(ValueError):
    """The configuration is not valid; the message says where and why."""


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), type(value).__name__)


class _Object:
    """One JSON object being read: typed getters that name the key in their errors."""

    def __init__(self, data: object, where: str, known: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{where or 'the configuration'}: must be an object,"
                              f" found {_kind(data)}")
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ConfigError(f"{self._at(where, unknown[0])}: unknown key"
                              f" (known: {', '.join(known)})")
        self.data: dict[str, Any] = data
        self.where = where

    @staticmethod
    def _at(where: str, key: str) -> str:
        return f"{where}.{key}" if where else key

    def at(self, key: str) -> str:
        """The path of ``key`` for messages."""
        return self._at(self.where, key)

    def fail(self, key: str, expected: str) -> ConfigError:
        """The error for a value of ``key`` that is not ``expected``."""
        return ConfigError(f"{self.at(key)}: must be {expected}, found {self.data[key]!r}")

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        """A string (``default`` when absent)."""
        if key not in self.data:
            if required or default is None:
                raise ConfigError(f"{self.at(key)}: is required")
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string or null (absent: null)."""
        return None if self.data.get(key) is None else self.text(key)

    def number(self, key: str, default: float | None = None) -> float:
        """A finite number > 0."""
        if key not in self.data:
            if default is None:
                raise ConfigError(f"{self.at(key)}: is required")
            return default
        value = self.data[key]
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value <= 0):
            raise self.fail(key, "a number > 0")
        return float(value)

    def integer(self, key: str, default: int | None = None, *, minimum: int = 0) -> int:
        """A whole number of at least ``minimum``."""
        if key not in self.data:
            if default is None:
                raise ConfigError(f"{self.at(key)}: is required")
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"a whole number ≥ {minimum}")
        return value

    def optional_integer(self, key: str) -> int | None:
        """A whole number ≥ 0, or null."""
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean."""
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false")
        return value

    def texts(self, key: str, default: list[str] | None = None, *,
              non_empty: bool = False) -> list[str]:
        """A list of strings."""
        if key not in self.data:
            if default is None:
                raise ConfigError(f"{self.at(key)}: is required")
            return list(default)
        value = self.data[key]
        if (not isinstance(value, list) or not all(isinstance(v, str) for v in value)
                or (non_empty and not value)):
            raise self.fail(key, "a non-empty list of strings" if non_empty
                             else "a list of strings")
        return value

    def items(self, key: str) -> list[tuple[object, str]]:
        """The elements of a list of objects, each with its path."""
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "a list")
        return [(item, f"{self.at(key)}[{i}]") for i, item in enumerate(value)]


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Who may call. ``error`` set: auth cannot work (e.g. a secret without value): 503."""

    type: AuthType = "none"
    hs256_key: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    header: str = "X-API-Key"
    key_sha256: list[str] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> AuthConfig:
        """Check and read one ``auth`` object."""
        obj = _Object(data, where, ("type", "hs256_key", "jwks_url", "issuer", "audience",
                                    "header", "key_sha256", "error"))
        kind = obj.text("type", "none")
        if kind not in _AUTH_TYPES:
            raise obj.fail("type", " or ".join(repr(t) for t in _AUTH_TYPES))
        return cls(kind, obj.optional_text("hs256_key"),
                   obj.optional_text("jwks_url"), obj.optional_text("issuer"),
                   obj.optional_text("audience"), obj.text("header", "X-API-Key"),
                   obj.texts("key_sha256", []), obj.optional_text("error"))


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Token bucket per client: ``requests`` per ``per_s`` seconds, plus ``burst``."""

    requests: int
    per_s: float
    burst: int = 0

    @classmethod
    def parse(cls, data: object, where: str) -> RateLimitConfig:
        """Check and read one ``rate_limit`` object."""
        obj = _Object(data, where, ("requests", "per_s", "burst"))
        return cls(obj.integer("requests", minimum=1), obj.number("per_s"),
                   obj.integer("burst", 0))


@dataclass(frozen=True, slots=True)
class CorsConfig:
    """Cross-origin policy; ``["*"]`` allows any origin (or header)."""

    origins: list[str]
    methods: list[str] = field(default_factory=lambda: list(_CORS_METHODS))
    headers: list[str] = field(default_factory=lambda: ["*"])
    credentials: bool = False
    max_age_s: int | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> CorsConfig:
        """Check and read one ``cors`` object."""
        obj = _Object(data, where, ("origins", "methods", "headers", "credentials",
                                    "max_age_s"))
        return cls(obj.texts("origins", non_empty=True), obj.texts("methods", _CORS_METHODS),
                   obj.texts("headers", ["*"]), obj.flag("credentials"),
                   obj.optional_integer("max_age_s"))


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The effective policy of a service, or of some of its paths."""

    auth: AuthConfig = field(default_factory=AuthConfig)
    rate_limit: RateLimitConfig | None = None
    cors: CorsConfig | None = None

    @classmethod
    def parse(cls, data: object, where: str) -> PolicyConfig:
        """Check and read one ``policy`` object."""
        obj = _Object(data, where, ("auth", "rate_limit", "cors"))
        get = obj.data.get
        return cls(
            AuthConfig.parse(get("auth", {}), obj.at("auth")),
            None if get("rate_limit") is None
            else RateLimitConfig.parse(get("rate_limit"), obj.at("rate_limit")),
            None if get("cors") is None else CorsConfig.parse(get("cors"), obj.at("cors")),
        )


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """``policy`` for paths matching ``path`` (a template; a prefix unless ``exact``)."""

    path: str
    methods: list[str] | None = None
    exact: bool = False
    policy: PolicyConfig = field(default_factory=PolicyConfig)

    @classmethod
    def parse(cls, data: object, where: str) -> RuleConfig:
        """Check and read one rule."""
        obj = _Object(data, where, ("path", "methods", "exact", "policy"))
        methods = None if obj.data.get("methods") is None else obj.texts("methods")
        return cls(obj.text("path", required=True), methods, obj.flag("exact"),
                   PolicyConfig.parse(obj.data.get("policy", {}), obj.at("policy")))


@dataclass(frozen=True, slots=True)
class RouteConfig:
    """One service: its prefix, its upstream (None: not running), policy and overrides."""

    service: str
    prefix: str
    upstream: str | None = None
    openapi: str | None = None
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    rules: list[RuleConfig] = field(default_factory=list)

    @classmethod
    def parse(cls, data: object, where: str) -> RouteConfig:
        """Check and read one route."""
        obj = _Object(data, where, ("service", "prefix", "upstream", "openapi", "policy",
                                    "rules"))
        upstream = obj.optional_text("upstream")
        if upstream is not None:
            rest = upstream.removeprefix("http://").rstrip("/")
            if rest == upstream or not rest or "/" in rest:
                raise ConfigError(f"{obj.at('upstream')}: upstream must look like"
                                  f" http://host:port, found {upstream!r}")
        return cls(obj.text("service", required=True), obj.text("prefix", required=True),
                   upstream, obj.optional_text("openapi"),
                   PolicyConfig.parse(obj.data.get("policy", {}), obj.at("policy")),
                   [RuleConfig.parse(item, at) for item, at in obj.items("rules")])


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole configuration file.

    ``generation`` counts the supervisor's rewrites of the file (0 when absent): the gateway
    reports the one it serves at ``/_lcdev/health``, so a reload can wait until it is live.
    """

    workspace: str = ""
    public_url: str | None = None
    timeout_s: float = 30.0
    connect_timeout_s: float = 2.0
    routes: list[RouteConfig] = field(default_factory=list)
    generation: int = 0


def parse_config(data: object) -> GatewayConfig:
    """Check and read a decoded configuration; raise ``ConfigError`` naming the bad key."""
    obj = _Object(data, "", ("workspace", "public_url", "timeout_s", "connect_timeout_s",
                             "routes", "generation"))
    return GatewayConfig(obj.text("workspace", ""), obj.optional_text("public_url"),
                         obj.number("timeout_s", 30.0), obj.number("connect_timeout_s", 2.0),
                         [RouteConfig.parse(item, at) for item, at in obj.items("routes")],
                         obj.integer("generation", 0))


def load_config(path: Path) -> GatewayConfig:
    """Read and check the file; raise ``OSError`` or ``ConfigError`` (a ``ValueError``)."""
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Invalid JSON in {path}: {exc.msg} (line {exc.lineno},"
                          f" column {exc.colno})") from None
    try:
        return parse_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
