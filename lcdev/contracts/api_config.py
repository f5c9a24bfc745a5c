"""The schemathesis configuration of ``lcdev test``'s API checks, and why it is this one.

One ``SchemathesisConfig`` per run (the same for every service, so one ``--seed`` reproduces
all of them). The defaults were measured on the shop workspace on 2 cores: the ``coverage``
phase in its negative mode enumerates every invalid value of every query parameter (~800
requests for one list endpoint with filters, ~6 s), so coverage runs positive only (boundary
values of valid inputs); invalid inputs still come from the ``fuzzing`` phase, which
generates both modes within ``max_examples``. See ``run_api_checks`` for the figures.
"""

from __future__ import annotations

from typing import Any

from schemathesis.config import SchemathesisConfig

__all__ = ["API_CHECKS", "DEFAULT_MAX_EXAMPLES", "engine_config"]

API_CHECKS: tuple[str, ...] = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
"""The checks the contract promises (docs/contracts-internals.md), by schemathesis' names."""

DEFAULT_MAX_EXAMPLES = 25
_STATEFUL_MAX_STEPS = 6  # a create -> read -> update -> delete chain fits; longer ones cost time
_STATEFUL_SCENARIOS = 10
_REQUEST_TIMEOUT_S = 10
_WORKERS = 2  # threads: while one waits for the stack's answer, the other generates


def engine_config(*, gateway_url: str, token: str | None, seed: int, max_examples: int,
                  per_operation: dict[str, int] | None, stateful: bool) -> SchemathesisConfig:
    """The configuration for one run. ``per_operation`` maps ``"POST /orders/orders"`` (the
    operation's method and gateway path) to its own ``max_examples``."""
    checks: dict[str, Any] = {"enabled": False}
    checks.update({name: {"enabled": True} for name in API_CHECKS})
    data: dict[str, Any] = {
        "seed": seed,
        "base-url": gateway_url,
        "request-timeout": _REQUEST_TIMEOUT_S,
        "workers": _WORKERS,
        "checks": checks,
        # nothing written to the working directory (hypothesis' example database); the seed
        # alone reproduces a run
        "generation": {"max-examples": max_examples, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "generation": {"mode": "positive"}},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": stateful, "max-steps": _STATEFUL_MAX_STEPS,
                         "generation": {"max-examples": _STATEFUL_SCENARIOS}},
        },
        "operations": [
            {"include-name": name, "generation": {"max-examples": count}}
            for name, count in sorted((per_operation or {}).items())
        ],
    }
    if token:
        # sent on every request: harmless where a route asks for no credential, required
        # where its gateway policy does
        data["headers"] = {"Authorization": f"Bearer {token}"}
    return SchemathesisConfig.from_dict(data)
