"""CORS at the gateway: preflights answered here, headers added to every response.

With a CORS policy the gateway is the authority: an ``OPTIONS`` preflight never reaches the
service, and the service's own ``Access-Control-*`` headers are replaced by the policy's.
"""

from __future__ import annotations

from lcdev.gateway.schema import CorsConfig

__all__ = ["Cors", "CorsRefused"]

Headers = list[tuple[str, str]]
_VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class CorsRefused(Exception):
    """A preflight the policy does not allow (answered 403)."""


class Cors:
    """One CORS policy, ready to answer."""

    def __init__(self, config: CorsConfig) -> None:
        self.config = config
        self.any_origin = "*" in config.origins
        self.origins = frozenset(config.origins)
        self.methods = frozenset(m.upper() for m in config.methods)
        self.any_header = "*" in config.headers
        self.headers = frozenset(h.lower() for h in config.headers)

    def allows(self, origin: str) -> bool:
        """Whether a browser page at ``origin`` may call."""
        return self.any_origin or origin in self.origins

    def _origin_headers(self, origin: str) -> Headers:
        if self.any_origin and not self.config.credentials:
            return [("access-control-allow-origin", "*")]
        headers = [("access-control-allow-origin", origin), ("vary", "Origin")]
        if self.config.credentials:
            headers.append(("access-control-allow-credentials", "true"))
        return headers

    def preflight(self, origin: str, method: str, requested: str | None) -> Headers:
        """Headers of the 204 answer to a preflight; raise ``CorsRefused`` if not allowed."""
        if not self.allows(origin):
            raise CorsRefused(f"origin '{origin}' is not allowed")
        if method.upper() not in self.methods:
            raise CorsRefused(f"method {method} is not allowed from other origins"
                              f" (allowed: {', '.join(sorted(self.methods))})")
        asked = [h.strip() for h in (requested or "").split(",") if h.strip()]
        if not self.any_header:
            refused = [h for h in asked if h.lower() not in self.headers]
            if refused:
                raise CorsRefused(f"request headers not allowed: {', '.join(refused)}")
        allowed = ", ".join(asked) if self.any_header else ", ".join(self.config.headers)
        headers = [h for h in self._origin_headers(origin) if h[0] != "vary"]
        headers += [
            ("access-control-allow-methods", ", ".join(self.config.methods)),
            ("vary", _VARY_PREFLIGHT),
        ]
        if allowed:
            headers.append(("access-control-allow-headers", allowed))
        if self.config.max_age_s is not None:
            headers.append(("access-control-max-age", str(self.config.max_age_s)))
        return headers

    def response_headers(self, origin: str) -> Headers:
        """Headers added to an actual response for a page at ``origin`` (none if refused)."""
        if not self.allows(origin):
            return [("vary", "Origin")]
        return [*self._origin_headers(origin), ("access-control-expose-headers", "X-Request-Id")]
