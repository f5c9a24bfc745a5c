"""Run the gateway: ``python -m lcdev.gateway --port 8800 --config .lcdev/run/gateway.json``.

SIGHUP re-reads the configuration at once (it is also re-read within 250 ms of a change);
SIGTERM and SIGINT stop accepting and let requests in flight finish.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from lcdev.gateway.server import GatewayServer

__all__ = ["main"]


async def _serve(server: GatewayServer) -> None:
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, server.reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve until stopped."""
    parser = argparse.ArgumentParser(prog="lcdev-gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    server = GatewayServer(args.config, args.host, args.port)
    try:
        asyncio.run(_serve(server))
    except (OSError, ValueError) as exc:  # unreadable or invalid config, port taken
        sys.stderr.write(f"lcdev gateway: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
