"""Run the gateway: ``python -m lcdev.gateway --port 8800 --config run/gateway.json``."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from lcdev.gateway.app import build_gateway_app

parser = argparse.ArgumentParser(prog="lcdev-gateway")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--config", type=Path, required=True)
args = parser.parse_args()
uvicorn.run(build_gateway_app(args.config), host=args.host, port=args.port,
            log_level="warning", access_log=False)
