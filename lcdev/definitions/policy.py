"""Gateway policy of a service and of its routes: authentication, rate limits and CORS."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from lcdev.definitions.common import DefinitionModel, Duration, ShortForm
from lcdev.definitions.issues import Issues

__all__ = ["AuthPolicy", "AuthSpec", "CorsPolicy", "GatewayPolicy", "RateLimit", "RoutePolicy"]

AuthType = Literal["none", "jwt", "api_key"]


class AuthPolicy(DefinitionModel):
    """Who may call: nobody checked, a JWT (HS256 secret or JWKS), or an API key header."""

    type: AuthType = Field("none", description="none, jwt or api_key.")
    secret: str | None = Field(
        None,
        description="Workspace secret name: the HS256 key (jwt) or the accepted keys, comma"
        " separated (api_key).",
    )
    jwks_url: str | None = Field(None, description="JWKS URL for RS256/ES256 tokens (jwt).")
    issuer: str | None = Field(None, description="Required 'iss' claim (jwt).")
    audience: str | None = Field(None, description="Required 'aud' claim (jwt).")
    header: str = Field("X-API-Key", description="Header carrying the key (api_key).")

    @model_validator(mode="after")
    def _consistent(self) -> AuthPolicy:
        issues = Issues()
        if self.type == "jwt" and (self.secret is None) == (self.jwks_url is None):
            issues.add("jwt auth needs exactly one of 'secret' (HS256) or 'jwks_url'")
        if self.type == "api_key" and self.secret is None:
            issues.add("api_key auth needs the 'secret' holding the accepted keys")
        if self.type == "none" and (self.secret or self.jwks_url):
            issues.add("auth 'none' takes no secret or jwks_url")
        issues.raise_if_any()
        return self


AuthSpec = Annotated[
    AuthPolicy,
    ShortForm(
        lambda v: {"type": v} if isinstance(v, str) else v,
        {"type": "string", "enum": ["none"], "description": "Short form of auth: none."},
    ),
]


class RateLimit(DefinitionModel):
    """Token bucket per client: ``requests`` per ``per``, plus ``burst`` extra."""

    requests: int = Field(ge=1, description="Requests allowed per period.")
    per: Duration = Field(timedelta(seconds=1), description="The period, e.g. 1s or 1m.")
    burst: int = Field(0, ge=0, description="Extra requests allowed in a burst.")


class CorsPolicy(DefinitionModel):
    """Cross-origin access for browsers."""

    origins: list[str] = Field(min_length=1, description="Allowed origins, or ['*'].")
    methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"],
        description="Allowed methods.",
    )
    headers: list[str] = Field(default_factory=lambda: ["*"], description="Allowed headers.")
    credentials: bool = Field(False, description="Allow cookies and auth headers.")
    max_age: Duration | None = Field(None, description="How long browsers cache preflights.")


class RoutePolicy(DefinitionModel):
    """Policy overrides for the paths under ``path`` (a prefix) and, optionally, some methods."""

    path: str = Field(description="Path prefix this policy applies to, e.g. /orders/{id}/cancel.")
    methods: list[str] | None = Field(None, description="Methods it applies to; all if omitted.")
    auth: AuthSpec | None = Field(None, description="Authentication override.")
    rate_limit: RateLimit | None = Field(None, description="Rate limit override.")
    cors: CorsPolicy | None = Field(None, description="CORS override.")

    @model_validator(mode="after")
    def _consistent(self) -> RoutePolicy:
        if not self.path.startswith("/"):
            issues = Issues()
            issues.add(f"path must start with '/', found '{self.path}'", "path")
            issues.raise_if_any()
        return self


def _default_auth() -> AuthPolicy:
    return AuthPolicy()


class GatewayPolicy(DefinitionModel):
    """The gateway policy of a service; ``routes`` override it for some paths."""

    auth: AuthSpec = Field(default_factory=_default_auth, description="Authentication.")
    rate_limit: RateLimit | None = Field(None, description="Rate limit per client.")
    cors: CorsPolicy | None = Field(None, description="CORS policy.")
    routes: list[RoutePolicy] = Field(default_factory=list, description="Per-route overrides.")

    def policy_secrets(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location, secret name) of every secret this policy refers to."""
        found: list[tuple[tuple[str | int, ...], str]] = []
        if self.auth.secret:
            found.append((("auth", "secret"), self.auth.secret))
        for i, route in enumerate(self.routes):
            if route.auth is not None and route.auth.secret:
                found.append((("routes", i, "auth", "secret"), route.auth.secret))
        return found


