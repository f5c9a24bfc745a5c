"""JWT bearer tokens: HS256 with the configured key, or asymmetric keys from a JWKS.

Imported by ``auth.make_authenticator`` only when a route asks for JWT, since PyJWT and the
cryptography it loads cost a noticeable part of the gateway's start-up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient
from jwt.types import Options

from lcdev.gateway.auth import Authenticator, AuthFailed, JwksKeys
from lcdev.gateway.http1 import RequestHead
from lcdev.gateway.schema import AuthConfig

__all__ = ["JwtAuthenticator", "signing_key"]

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


async def signing_key(cache: JwksKeys, url: str, token: str) -> PyJWK:
    """The key of ``url`` that signed ``token`` (cached); raises PyJWT's errors."""
    kid = jwt.get_unverified_header(token).get("kid")
    cached = cache.keys.get((url, kid))
    if cached is not None and time.monotonic() - cached[1] < cache.ttl_s:
        return cached[0]
    client = cache.clients.get(url)
    if client is None:
        client = cache.clients[url] = PyJWKClient(url, lifespan=cache.ttl_s, timeout=5)
    key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
    cache.keys[(url, kid)] = (key, time.monotonic())
    return key


class JwtAuthenticator(Authenticator):
    """``Authorization: Bearer <JWT>`` checked against an HS256 key or a JWKS."""

    type = "jwt"

    def __init__(self, service: str, config: AuthConfig, jwks: JwksKeys) -> None:
        self.config, self.jwks = config, jwks
        self.realm = f'Bearer realm="{service}"'

    def _refuse(self, detail: str) -> AuthFailed:
        challenge = f'{self.realm}, error="invalid_token", error_description="{detail}"'
        return AuthFailed(401, detail, challenge)

    async def authenticate(self, request: RequestHead) -> str | None:
        """The token's subject (``sub:<sub>``), or raise ``AuthFailed``."""
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
        key = await signing_key(self.jwks, self.config.jwks_url, token)
        return key.key, [algorithm]
