"""Building the gateway's configuration from the definitions, and writing it.

This is the supervisor's side of ``.lcdev/run/gateway.json``: ``build_gateway_config`` resolves
every policy of the definitions (secrets become values, API keys SHA-256 digests, durations
seconds, route overrides carry their whole effective policy) into the dataclasses of
``schema.py``, and ``write_config`` writes the file atomically with mode 0600 (it holds the
HS256 key). The gateway process only reads the file (``schema.load_config``) and never imports
this module or the definitions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lcdev.gateway.schema import (
    AuthConfig,
    CorsConfig,
    GatewayConfig,
    PolicyConfig,
    RateLimitConfig,
    RouteConfig,
    RuleConfig,
)

if TYPE_CHECKING:  # the definitions are only passed in; nothing here needs them at import
    from lcdev.definitions import (
        AuthPolicy,
        CorsPolicy,
        RateLimit,
        ServiceDefinition,
        WorkspaceDefinition,
    )

__all__ = ["build_gateway_config", "write_config"]


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
    generation: int = 0,
) -> dict[str, Any]:
    """The gateway configuration for ``services`` (``upstreams``: name -> base URL or None).

    ``generation``: the supervisor's count of rewrites, answered by the gateway's health
    endpoint once it serves this configuration."""
    routes = [
        _route(workspace, service, upstreams.get(name), root)
        for name, service in sorted(services.items())
    ]
    config = GatewayConfig(workspace=workspace.name, public_url=public_url,
                           timeout_s=timeout_s, routes=routes, generation=generation)
    return dataclasses.asdict(config)


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
                   policy=dataclasses.replace(base, auth=AuthConfig()))
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
    if auth.type == "api_key":
        keys = [k.strip() for k in (value or "").split(",") if k.strip()]
        digests = [hashlib.sha256(k.encode()).hexdigest() for k in keys]
        return AuthConfig(type="api_key", header=auth.header, key_sha256=digests, error=error)
    return AuthConfig(type="jwt", hs256_key=value, jwks_url=auth.jwks_url, issuer=auth.issuer,
                      audience=auth.audience, error=error)


def _rate(limit: RateLimit | None) -> RateLimitConfig | None:
    if limit is None:
        return None
    return RateLimitConfig(requests=limit.requests, per_s=limit.per.total_seconds(),
                           burst=limit.burst)


def _cors(cors: CorsPolicy | None) -> CorsConfig | None:
    if cors is None:
        return None
    max_age = int(cors.max_age.total_seconds()) if cors.max_age is not None else None
    return CorsConfig(origins=list(cors.origins), methods=[m.upper() for m in cors.methods],
                      headers=list(cors.headers), credentials=cors.credentials,
                      max_age_s=max_age)
