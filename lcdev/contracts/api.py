"""API contracts: schemathesis against every low-code service, through the gateway.

Each service's own OpenAPI document (``<route>/openapi.json``, fetched through the gateway:
its paths are gateway paths) is loaded with ``schemathesis.openapi.from_url`` and run by
schemathesis' engine — the one its CLI uses — with the phases examples, coverage, fuzzing
and stateful (sequences from the document's links) and the four checks of ``API_CHECKS``.
The engine is synchronous (it runs its own worker threads), so ``run_api_checks`` is too;
call it from a thread when an event loop is running.

Services are checked one after another, each engine with two worker threads (one waits for
the stack's answer while the other generates); the checker's own CPU (generation and
response validation, ~24 s of ~40 s for the shop) is the cost that matters on 2 cores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis.configuration
import schemathesis
from schemathesis.engine import from_schema

from lcdev.contracts.api_config import DEFAULT_MAX_EXAMPLES, engine_config
from lcdev.contracts.api_findings import ServiceResults, trace_id_of
from lcdev.contracts.findings import Finding

if TYPE_CHECKING:
    from lcdev.contracts.stack import ContractTarget

__all__ = ["run_api_checks", "trace_id_of"]




def _routes(target: ContractTarget, services: list[str] | None) -> dict[str, str]:
    """Low-code service name -> its gateway route, for the services asked for."""
    wanted = sorted(target.services) if services is None else services
    routes: dict[str, str] = {}
    for name in wanted:
        definition = target.loaded.services.get(name)
        routes[name] = definition.route if definition is not None else f"/{name}"
    return routes


@contextlib.contextmanager
def _hypothesis_storage(directory: Path) -> Iterator[None]:
    """Keep hypothesis' caches in the workspace's ``.lcdev/`` for the run, not in a
    ``.hypothesis/`` folder of whatever directory ``lcdev test`` was started from (the user's
    ``HYPOTHESIS_STORAGE_DIRECTORY`` wins); the previous setting is restored after."""
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        yield
        return
    previous = getattr(hypothesis.configuration, "__hypothesis_home_directory", None)
    hypothesis.configuration.set_hypothesis_home_dir(directory)
    try:
        yield
    finally:
        hypothesis.configuration.set_hypothesis_home_dir(previous)


def _check_service(target: ContractTarget, service: str, route: str, seed: int,
                   max_examples: int, per_operation: dict[str, int] | None,
                   stateful: bool) -> list[Finding]:
    started = time.perf_counter()
    url = f"{target.gateway_url.rstrip('/')}{route}/openapi.json"
    if service not in target.services:
        return [Finding("api", f"{service}: API", "error", service=service,
                        message=f"'{service}' is not a running low-code service",
                        details={"seed": seed})]
    config = engine_config(gateway_url=target.gateway_url, token=target.token, seed=seed,
                           max_examples=max_examples, per_operation=per_operation,
                           stateful=stateful)
    try:
        schema = schemathesis.openapi.from_url(url, config=config)
    except Exception as exc:  # any failure to load is "could not check", never a raise
        return [Finding("api", f"{service}: API", "error", service=service,
                        message=f"its OpenAPI document could not be loaded from {url}: "
                        f"{' '.join(str(exc).split())[:300]}",
                        seconds=round(time.perf_counter() - started, 3),
                        details={"seed": seed})]
    results = ServiceResults(service, seed)
    try:
        for event in from_schema(schema).execute():
            results.add(event)
    except Exception as exc:  # an engine crash is reported, not raised
        results.fatal = f"schemathesis failed: {exc!r}"[:300]
    return [_with_token(finding, target.token) for finding in results.findings()]


def _with_token(finding: Finding, token: str | None) -> Finding:
    """schemathesis leaves headers set in its configuration out of its curl command; the
    development token goes back in, so the command really reproduces behind the gateway's
    auth (it is a development-only token, minted from the workspace's dev secret)."""
    command = finding.reproduce
    if not token or not command.startswith("curl ") or "authorization:" in command.lower():
        return finding
    header = f"-H 'Authorization: Bearer {token}' "
    return dataclasses.replace(finding, reproduce=f"curl {header}{command[len('curl '):]}")


def run_api_checks(target: ContractTarget, *, services: list[str] | None = None,
                   seed: int | None = None, max_examples: int = DEFAULT_MAX_EXAMPLES,
                   per_operation: dict[str, int] | None = None,
                   stateful: bool = True) -> list[Finding]:
    """Check every low-code service's API (or those named in ``services``) against its
    OpenAPI document: one finding per operation, one per stateful run, and one ``error``
    finding for a service whose document or server could not be reached.

    ``seed`` (a fresh one when ``None``, reported in every finding's ``details``) makes the
    generated cases the same again; ``per_operation`` overrides ``max_examples`` for
    operations named ``"METHOD /gateway/path"``. Synchronous (blocking)."""
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    findings: list[Finding] = []
    with _hypothesis_storage(target.root / ".lcdev" / "hypothesis"):
        for service, route in _routes(target, services).items():
            findings += _check_service(target, service, route, seed, max_examples,
                                       per_operation, stateful)
    return findings
