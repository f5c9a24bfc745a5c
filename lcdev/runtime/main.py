"""Serve one low-code service: ``python -m lcdev.runtime --workspace DIR --service NAME ...``.

The supervisor starts this (forked from a preloaded parent, or as a plain process). Exit codes:
0 stopped, 2 the definitions are invalid, 3 a destructive migration was refused, 1 otherwise.

It serves a :class:`~lcdev.runtime.swap.SwapEntry`: the service's current app, replaced in
place by a hot reload. ``POST /_lcdev/reload`` is on only when the supervisor gave the process
a token in ``LCDEV_CONTROL_TOKEN`` (docs/reload-internals.md).

Everything the process says is a JSON log line on stdout (observability/logs.py). Telemetry is
set up here, after the fork, from the ``OTEL_*`` environment the supervisor gives
(``lcdev.telemetry.sdk``; nothing without an endpoint), and flushed on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

import uvicorn

from lcdev.definitions import load_workspace
from lcdev.runtime.data import DestructiveChangeRefused
from lcdev.runtime.observability.logs import install_json_logging
from lcdev.runtime.service import RuntimeOptions, ServiceRuntime
from lcdev.telemetry.sdk import setup_telemetry

__all__ = ["CONTROL_TOKEN_ENV", "main"]

CONTROL_TOKEN_ENV = "LCDEV_CONTROL_TOKEN"

log = logging.getLogger("lcdev.runtime")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lcdev-runtime", description=__doc__)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--kafka", required=True, help="bootstrap servers host:port")
    parser.add_argument("--allow-destructive", action="store_true")
    return parser


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: ``serve`` installs ours."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


async def serve(args: argparse.Namespace) -> int:
    loaded = load_workspace(args.workspace.resolve())
    if args.service not in loaded.services:
        for problem in loaded.problems:
            log.error("%s", problem.relative_to(loaded.root))
        log.error("service '%s' has no valid definition", args.service)
        return 2
    runtime = ServiceRuntime(
        loaded, args.service,
        RuntimeOptions(dsn=args.dsn, bootstrap=args.kafka,
                       allow_destructive=args.allow_destructive,
                       control_token=os.environ.pop(CONTROL_TOKEN_ENV, None) or None),
    )
    try:
        app = await runtime.start()
    except DestructiveChangeRefused as exc:
        log.error("%s", exc)
        await runtime.stop()
        return 3
    # log_config=None: uvicorn's records go to our JSON handler instead of its own format.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            access_log=False, lifespan="off", log_config=None)
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    warm = asyncio.create_task(_warm_reload_imports()) if runtime.options.control_token else None
    try:
        await server.serve()
    finally:
        if warm is not None:
            warm.cancel()
        await runtime.stop()
    return 0


RELOAD_IMPORTS = ("lcdev.runtime.data.migrate_additive",)
"""What the first hot reload that adds a field needs (SQLAlchemy: ~200 ms to import). The
fork server does not preload it (that would lengthen every ``up``); the service imports it in
the background once it has been serving for a while, so the first such reload is as fast as
the next."""


async def _warm_reload_imports(delay_s: float = 2.0) -> None:
    await asyncio.sleep(delay_s)
    for module in RELOAD_IMPORTS:
        await asyncio.to_thread(importlib.import_module, module)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    install_json_logging(args.service)
    telemetry = setup_telemetry(args.service)
    try:
        return asyncio.run(serve(args))
    except Exception:  # said as a JSON line, like everything else
        log.critical("the service stopped on an unexpected error", exc_info=True)
        return 1
    finally:
        telemetry.shutdown()
