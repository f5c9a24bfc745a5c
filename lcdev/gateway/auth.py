"""Authentication at the gateway: API keys here, JWT (HS256 key or a JWKS) in ``jwt_auth``.

An authenticator checks one request and returns the caller's identity for rate limiting
(``sub:<subject>`` or ``key:<digest prefix>``, None when anonymous), or raises ``AuthFailed``
with the problem the caller gets: 401 with ``WWW-Authenticate`` for a missing or bad
credential, 503 when the gateway cannot check credentials at all (a secret without value, a
JWKS that cannot be fetched). PyJWT (and the cryptography it loads) is imported only when a
route needs JWT, so a gateway without JWT routes starts without it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from lcdev.gateway.http1 import RequestHead
from lcdev.gateway.schema import AuthConfig

if TYPE_CHECKING:
    from jwt import PyJWK, PyJWKClient

__all__ = ["AuthFailed", "Authenticator", "JwksKeys", "make_authenticator"]


class AuthFailed(Exception):
    """The request is refused: ``status`` 401 (credential) or 503 (gateway cannot check)."""

    def __init__(self, status: int, detail: str, challenge: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.challenge = status, detail, challenge


class Authenticator:
    """No authentication: everyone passes, anonymously."""

    type = "none"

    async def authenticate(self, request: RequestHead) -> str | None:
        """The caller's identity, or raise ``AuthFailed``."""
        return None


class _Unavailable(Authenticator):
    def __init__(self, service: str, kind: str, error: str) -> None:
        self.type = kind
        self.detail = f"authentication for service '{service}' is not configured: {error}"

    async def authenticate(self, request: RequestHead) -> str | None:
        raise AuthFailed(503, self.detail)


class _ApiKey(Authenticator):
    type = "api_key"

    def __init__(self, service: str, header: str, digests: list[str]) -> None:
        self.header, self.name = header.lower(), header
        self.digests = [bytes.fromhex(d) for d in digests]
        self.challenge = f'ApiKey realm="{service}", header="{header}"'

    async def authenticate(self, request: RequestHead) -> str | None:
        key = request.get(self.header)
        if not key:
            raise AuthFailed(401, f"missing API key (header {self.name})", self.challenge)
        digest = hashlib.sha256(key.encode("latin-1")).digest()
        # compare against every key, in constant time per key
        if not any([hmac.compare_digest(digest, known) for known in self.digests]):
            raise AuthFailed(401, f"the API key in {self.name} is not valid", self.challenge)
        return "key:" + digest.hex()[:16]


class JwksKeys:
    """Signing keys of JWKS URLs, cached for ``ttl_s``; one per gateway, kept across reloads.

    Only the cache lives here; ``jwt_auth`` fetches the keys (off the event loop).
    """

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self.clients: dict[str, PyJWKClient] = {}
        self.keys: dict[tuple[str, str | None], tuple[PyJWK, float]] = {}


def make_authenticator(config: AuthConfig, service: str, jwks: JwksKeys) -> Authenticator:
    """The authenticator for one policy of ``service``."""
    if config.type == "none":
        return Authenticator()
    if config.error is not None:
        return _Unavailable(service, config.type, config.error)
    if config.type == "api_key":
        return _ApiKey(service, config.header, config.key_sha256)
    if config.hs256_key is None and config.jwks_url is None:
        return _Unavailable(service, "jwt", "neither an HS256 key nor a jwks_url is set")
    from lcdev.gateway.jwt_auth import JwtAuthenticator  # PyJWT only when a route needs it

    return JwtAuthenticator(service, config, jwks)
