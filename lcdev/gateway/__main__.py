"""Run the gateway: ``python -m lcdev.gateway --port 8800 --config .lcdev/run/gateway.json``.

SIGHUP re-reads the configuration at once (it is also re-read within 250 ms of a change);
SIGTERM and SIGINT stop accepting and let requests in flight finish. Telemetry (spans over
OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set) is set up once the gateway listens.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from lcdev.gateway.server import GatewayServer
from lcdev.gateway.telemetry import BackgroundTelemetry

__all__ = ["main"]


async def _serve(server: GatewayServer, telemetry: list[BackgroundTelemetry]) -> None:
    await server.start()
    loop = asyncio.get_running_loop()
    background = BackgroundTelemetry(server, loop)
    background.start()  # after listening: the SDK's imports are not on the start-up path
    telemetry.append(background)
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
    telemetry: list[BackgroundTelemetry] = []
    try:
        asyncio.run(_serve(server, telemetry))
    except (OSError, ValueError) as exc:  # unreadable or invalid config, port taken
        sys.stderr.write(f"lcdev gateway: {exc}\n")
        return 2
    finally:
        for background in telemetry:
            background.shutdown()  # the spans of the last requests
    return 0


if __name__ == "__main__":
    sys.exit(main())
