"""The workspace gateway: one HTTP entry point routing to every service.

The gateway runs as its own process (``python -m lcdev.gateway``) configured by a JSON file
(``config.py``); only building and writing that file is meant for other packages, so
importing this package stays light.
"""

from lcdev.gateway.config import GatewayConfig, build_gateway_config, load_config, write_config

__all__ = ["GatewayConfig", "build_gateway_config", "load_config", "write_config"]
