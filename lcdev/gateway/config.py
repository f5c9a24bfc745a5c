"""The gateway's configuration, for other packages: the schema, loading, building, writing.

The supervisor builds ``.lcdev/run/gateway.json`` with ``build_gateway_config`` and writes it
with ``write_config`` (``builder.py``); the gateway process reads it with ``load_config``
(``schema.py``: plain dataclasses checked by hand, so the gateway starts without pydantic or
the definitions). Modules of the gateway process import ``schema`` directly, never this one.
"""

from lcdev.gateway.builder import build_gateway_config, write_config
from lcdev.gateway.schema import (
    AuthConfig,
    ConfigError,
    CorsConfig,
    GatewayConfig,
    PolicyConfig,
    RateLimitConfig,
    RouteConfig,
    RuleConfig,
    load_config,
    parse_config,
)

__all__ = [
    "AuthConfig",
    "ConfigError",
    "CorsConfig",
    "GatewayConfig",
    "PolicyConfig",
    "RateLimitConfig",
    "RouteConfig",
    "RuleConfig",
    "build_gateway_config",
    "load_config",
    "parse_config",
    "write_config",
]
