"""The gateway's configuration: a JSON document, and how it is built from the definitions.

The supervisor writes it to ``.lcdev/run/gateway.json`` with ``write_config`` (atomically,
mode 0600: it holds the HS256 key) and rewrites it whenever a service starts, stops or
reloads; the gateway reloads it on change. Every policy in it is already resolved: secrets
are values (API keys as SHA-256 digests), durations are seconds, route overrides carry their
whole effective policy. The schema is documented in docs/gateway.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:  # only the builder reads definitions; the gateway process never loads them
    from lcdev.definitions import (
        AuthPolicy,
        CorsPolicy,
        RateLimit,
        ServiceDefinition,
        WorkspaceDefinition,
    )

__all__ = [
    "AuthConfig",
    "CorsConfig",
    "GatewayConfig",
    "PolicyConfig",
    "RateLimitConfig",
    "RouteConfig",
    "RuleConfig",
    "build_gateway_config",
    "load_config",
    "write_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Model):
    """Who may call. ``error`` set: auth cannot work (e.g. a secret without value): 503."""

    type: Literal["none", "jwt", "api_key"] = "none"
    hs256_key: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    header: str = "X-API-Key"
    key_sha256: list[str] = Field(default_factory=list)
    error: str | None = None


class RateLimitConfig(_Model):
    """Token bucket per client: ``requests`` per ``per_s`` seconds, plus ``burst``."""

    requests: int = Field(ge=1)
    per_s: float = Field(gt=0)
    burst: int = Field(0, ge=0)


class CorsConfig(_Model):
    """Cross-origin policy; ``["*"]`` allows any origin (or header)."""

    origins: list[str] = Field(min_length=1)
    methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"])
    headers: list[str] = Field(default_factory=lambda: ["*"])
    credentials: bool = False
    max_age_s: int | None = None


class PolicyConfig(_Model):
    """The effective policy of a service, or of some of its paths."""

    auth: AuthConfig = Field(default_factory=AuthConfig)
    rate_limit: RateLimitConfig | None = None
    cors: CorsConfig | None = None


class RuleConfig(_Model):
    """``policy`` for paths matching ``path`` (a template; a prefix unless ``exact``)."""

    path: str
    methods: list[str] | None = None
    exact: bool = False
    policy: PolicyConfig = Field(default_factory=PolicyConfig)


class RouteConfig(_Model):
    """One service: its prefix, its upstream (None: not running), policy and overrides."""

    service: str
    prefix: str
    upstream: str | None = None
    openapi: str | None = None
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    rules: list[RuleConfig] = Field(default_factory=list)

    @field_validator("upstream")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is not None:
            rest = value.removeprefix("http://").rstrip("/")
            if rest == value or not rest or "/" in rest:
                raise ValueError(f"upstream must look like http://host:port, found {value!r}")
        return value


class GatewayConfig(_Model):
    """The whole configuration file."""

    workspace: str = ""
    public_url: str | None = None
    timeout_s: float = Field(30.0, gt=0)
    connect_timeout_s: float = Field(2.0, gt=0)
    routes: list[RouteConfig] = Field(default_factory=list)


def load_config(path: Path) -> GatewayConfig:
    """Read and validate the file; raise ``ValueError`` (pydantic's included) when bad."""
    return GatewayConfig.model_validate_json(path.read_bytes())


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write atomically with mode 0600, so the gateway never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(config, out, indent=2)
    os.replace(temporary, path)


def build_gateway_config(
    workspace: WorkspaceDefinition,
    services: Mapping[str, ServiceDefinition],
    upstreams: Mapping[str, str | None],
    root: Path,
    *,
    public_url: str | None = None,
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """The gateway configuration for ``services`` (``upstreams``: name -> base URL or None)."""
    routes = [
        _route(workspace, service, upstreams.get(name), root)
        for name, service in sorted(services.items())
    ]
    config = GatewayConfig(workspace=workspace.name, public_url=public_url,
                           timeout_s=timeout_s, routes=routes)
    return config.model_dump(mode="json")


def _route(
    workspace: WorkspaceDefinition, service: ServiceDefinition, upstream: str | None, root: Path
) -> RouteConfig:
    gateway = service.gateway
    base = PolicyConfig(auth=_auth(gateway.auth, workspace, root),
                        rate_limit=_rate(gateway.rate_limit), cors=_cors(gateway.cors))
    route = service.route
    if service.kind == "process":
        process = service.process
        public = [p for p in (process.openapi, process.health) if p] if process else []
        openapi = process.openapi if process else None
    else:
        public = [f"{route}/openapi.json", f"{route}/asyncapi.json", f"{route}/_lcdev/health"]
        openapi = f"{route}/openapi.json"
    rules = [
        RuleConfig(path=path, methods=["GET", "HEAD"], exact=True,
                   policy=base.model_copy(update={"auth": AuthConfig()}))
        for path in public if path == route or path.startswith(route + "/")
    ]
    for override in service.gateway.routes:
        policy = PolicyConfig(
            auth=_auth(override.auth, workspace, root) if override.auth else base.auth,
            rate_limit=_rate(override.rate_limit) if override.rate_limit else base.rate_limit,
            cors=_cors(override.cors) if override.cors else base.cors,
        )
        methods = [m.upper() for m in override.methods] if override.methods else None
        rules.append(RuleConfig(path=override.path, methods=methods, policy=policy))
    return RouteConfig(service=service.name, prefix=route, upstream=upstream,
                       openapi=openapi, policy=base, rules=rules)


def _auth(auth: AuthPolicy, workspace: WorkspaceDefinition, root: Path) -> AuthConfig:
    if auth.type == "none":
        return AuthConfig()
    value: str | None = None
    error: str | None = None
    if auth.secret is not None:
        ref = workspace.secrets.get(auth.secret)
        value = ref.resolve(root) if ref is not None else None
        if ref is None:
            error = f"secret '{auth.secret}' is not defined in lcdev.yaml"
        elif not value:
            where = (f"set the environment variable {ref.env}" if ref.env
                     else f"fill the file {ref.file}" if ref.file else "give it a value")
            error = f"secret '{auth.secret}' has no value ({where})"
    common: dict[str, Any] = {"type": auth.type, "error": error}
    if auth.type == "api_key":
        keys = [k.strip() for k in (value or "").split(",") if k.strip()]
        digests = [hashlib.sha256(k.encode()).hexdigest() for k in keys]
        return AuthConfig(header=auth.header, key_sha256=digests, **common)
    return AuthConfig(hs256_key=value, jwks_url=auth.jwks_url, issuer=auth.issuer,
                      audience=auth.audience, **common)


def _rate(limit: RateLimit | None) -> RateLimitConfig | None:
    if limit is None:
        return None
    return RateLimitConfig(requests=limit.requests, per_s=limit.per.total_seconds(),
                           burst=limit.burst)


def _cors(cors: CorsPolicy | None) -> CorsConfig | None:
    if cors is None:
        return None
    max_age = int(cors.max_age.total_seconds()) if cors.max_age is not None else None
    return CorsConfig(origins=cors.origins, methods=[m.upper() for m in cors.methods],
                      headers=cors.headers, credentials=cors.credentials, max_age_s=max_age)
