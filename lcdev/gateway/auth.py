"""Authentication at the gateway: JWT (HS256 key or a JWKS) and API keys.

An authenticator checks one request and returns the caller's identity for rate limiting
(``sub:<subject>`` or ``key:<digest prefix>``, None when anonymous), or raises ``AuthFailed``
with the problem the caller gets: 401 with ``WWW-Authenticate`` for a missing or bad
credential, 503 when the gateway cannot check credentials at all (a secret without value, a
JWKS that cannot be fetched).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.types import Options

from lcdev.gateway.config import AuthConfig
from lcdev.gateway.http1 import RequestHead

__all__ = ["AuthFailed", "Authenticator", "JwksKeys", "make_authenticator"]

_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512", "EdDSA"})
_JWT_PROBLEMS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet (nbf)"),
    (jwt.InvalidSignatureError, "the token's signature is invalid"),
    (jwt.InvalidIssuerError, "the token's issuer (iss) is not accepted"),
    (jwt.InvalidAudienceError, "the token's audience (aud) is not accepted"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
    (jwt.DecodeError, "the token is malformed"),
]


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
    """Signing keys of JWKS URLs, fetched (off the event loop) and cached for ``ttl_s``."""

    def __init__(self, ttl_s: float = 300.0) -> None:
        self.ttl_s = ttl_s
        self._clients: dict[str, PyJWKClient] = {}
        self._keys: dict[tuple[str, str | None], tuple[PyJWK, float]] = {}

    async def key_for(self, url: str, token: str) -> PyJWK:
        """The key that signed ``token``; raises PyJWT's errors."""
        kid = jwt.get_unverified_header(token).get("kid")
        cached = self._keys.get((url, kid))
        if cached is not None and time.monotonic() - cached[1] < self.ttl_s:
            return cached[0]
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = PyJWKClient(url, lifespan=self.ttl_s, timeout=5)
        key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        self._keys[(url, kid)] = (key, time.monotonic())
        return key


class _Jwt(Authenticator):
    type = "jwt"

    def __init__(self, service: str, config: AuthConfig, jwks: JwksKeys) -> None:
        self.config, self.jwks = config, jwks
        self.realm = f'Bearer realm="{service}"'

    def _refuse(self, detail: str) -> AuthFailed:
        challenge = f'{self.realm}, error="invalid_token", error_description="{detail}"'
        return AuthFailed(401, detail, challenge)

    async def authenticate(self, request: RequestHead) -> str | None:
        header = request.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailed(401, "missing bearer token (Authorization: Bearer <JWT>)",
                             self.realm)
        token = token.strip()
        try:
            key, algorithms = await self._key(token)
            options: Options = {"verify_aud": self.config.audience is not None}
            claims = jwt.decode(token, key, algorithms=algorithms, options=options,
                                issuer=self.config.issuer, audience=self.config.audience)
        except jwt.PyJWKClientConnectionError as exc:
            raise AuthFailed(503, f"the signing keys at {self.config.jwks_url} could not be"
                             f" fetched: {exc}") from None
        except jwt.PyJWKClientError as exc:
            if str(exc).startswith("Unable to find a signing key"):
                raise self._refuse(f"no signing key for this token: {exc}") from None
            raise AuthFailed(503, f"the signing keys at {self.config.jwks_url} are unusable:"
                             f" {exc}") from None
        except jwt.InvalidTokenError as exc:
            detail = next((text for kind, text in _JWT_PROBLEMS if isinstance(exc, kind)),
                          f"the token is not valid: {exc}")
            raise self._refuse(detail) from None
        except jwt.PyJWTError as exc:  # e.g. a key set that is not one
            raise AuthFailed(503, f"the signing keys at {self.config.jwks_url} are unusable:"
                             f" {exc}") from None
        subject = claims.get("sub")
        return f"sub:{subject}" if isinstance(subject, str) and subject else None

    async def _key(self, token: str) -> tuple[Any, list[str]]:
        if self.config.hs256_key is not None:
            return self.config.hs256_key, ["HS256"]
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm not in _ASYMMETRIC:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        assert self.config.jwks_url is not None
        key = await self.jwks.key_for(self.config.jwks_url, token)
        return key.key, [algorithm]


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
    return _Jwt(service, config, jwks)
