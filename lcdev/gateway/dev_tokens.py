"""Development JWTs: signed with the workspace secret the gateway verifies, for people
(`lcdev token`) and for checks (`lcdev test`) calling APIs behind JWT auth."""

from __future__ import annotations

import time
from collections.abc import Mapping

from lcdev.definitions import LoadedWorkspace

__all__ = ["jwt_secret_name", "mint_token"]


def jwt_secret_name(loaded: LoadedWorkspace) -> str | None:
    """The workspace secret the first JWT-protected service (or route) verifies with."""
    for service in loaded.services.values():
        for auth in (service.gateway.auth, *(r.auth for r in service.gateway.routes)):
            if auth is not None and auth.type == "jwt" and auth.secret:
                return auth.secret
    return None


def mint_token(key: str, subject: str, ttl: int,
               claims: Mapping[str, object] | None = None) -> str:
    """An HS256 JWT for ``subject`` valid ``ttl`` seconds from now, with extra ``claims``."""
    import jwt

    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl, **(claims or {})}, key,
                      algorithm="HS256")
