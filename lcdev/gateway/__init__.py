"""The workspace gateway: one HTTP entry point routing to every service.

The gateway runs as its own process (``python -m lcdev.gateway``) configured by a JSON file;
only building, writing and reading that file is meant for other packages. The names below are
imported on first use, so starting the gateway process loads neither the builder nor anything
it would pull in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lcdev.gateway.config import (
        GatewayConfig,
        build_gateway_config,
        load_config,
        write_config,
    )

__all__ = ["GatewayConfig", "build_gateway_config", "load_config", "write_config"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from lcdev.gateway import config

        return getattr(config, name)
    raise AttributeError(f"module 'lcdev.gateway' has no attribute {name!r}")
