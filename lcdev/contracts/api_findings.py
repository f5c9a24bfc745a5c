"""Turning schemathesis' event stream for one service into ``Finding``s.

The engine reports one scenario per operation and phase (examples, coverage, fuzzing) and
several for the stateful phase; lcdev reports one finding per operation (its worst outcome
over the phases, with the first failure's minimal case) and one for the stateful run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from schemathesis.engine import Status, events
from schemathesis.engine.recorder import CheckNode, ScenarioRecorder
from schemathesis.engine.run import PhaseName

from lcdev.contracts.findings import Finding

__all__ = ["ServiceResults", "trace_id_of"]

_MESSAGE_CHARS = 300
_STATEFUL = "stateful"


def trace_id_of(traceparent: str | None) -> str:
    """The trace id of a W3C ``traceparent`` (``00-<trace>-<span>-<flags>``), else ``""``."""
    parts = (traceparent or "").strip().split("-")
    return parts[1] if len(parts) >= 4 and len(parts[1]) == 32 else ""


@dataclass
class _Failure:
    check: str
    message: str
    reproduce: str
    trace_id: str
    status_code: int | None


@dataclass
class _Operation:
    """What the phases found about one operation (or the stateful run)."""

    label: str
    status: Status = Status.SKIP
    seconds: float = 0.0
    requests: int = 0
    failure: _Failure | None = None
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    skip_reason: str = ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def _first_failure(recorder: ScenarioRecorder) -> tuple[int, _Failure | None]:
    """How many checks failed, and the first one (schemathesis has already shrunk it)."""
    found: list[tuple[str, CheckNode]] = [
        (case_id, node) for case_id, nodes in recorder.checks.items() for node in nodes
        if node.status == Status.FAILURE and node.failure_info is not None]
    if not found:
        return 0, None
    case_id, node = found[0]
    info = node.failure_info
    assert info is not None
    failure = info.failure
    interaction = recorder.interactions.get(failure.case_id or case_id)
    response = interaction.response if interaction is not None else None
    headers = getattr(response, "headers", None) or {}
    traceparent = (headers.get("traceparent") or [""])[0]
    status_code = getattr(response, "status_code", None)
    title = failure.title or node.name
    answered = f" (HTTP {status_code})" if status_code is not None else ""
    message = f"{node.name}: {title}{answered}" + (
        f" — {failure.message}" if failure.message else "")
    return len(found), _Failure(node.name, _short(message), info.code_sample,
                                trace_id_of(traceparent), status_code)


class ServiceResults:
    """Collects one service's engine events; ``findings()`` says what they add up to."""

    def __init__(self, service: str, seed: int) -> None:
        self.service, self.seed = service, seed
        self.operations: dict[str, _Operation] = {}
        self.fatal: str = ""
        self.started = time.perf_counter()

    def _operation(self, label: str) -> _Operation:
        return self.operations.setdefault(label, _Operation(label))

    def add(self, event: events.EngineEvent) -> None:
        """Take one event of the stream."""
        if isinstance(event, events.ScenarioFinished):
            stateful = event.phase == PhaseName.STATEFUL_TESTING
            label = _STATEFUL if stateful else event.recorder.label
            operation = self._operation(label)
            operation.seconds += event.elapsed_time
            operation.requests += len(event.recorder.interactions)
            if event.status == Status.SKIP:
                operation.skip_reason = operation.skip_reason or (event.skip_reason or "")
            elif operation.status == Status.SKIP or operation.status < event.status:
                operation.status = event.status
            count, failure = _first_failure(event.recorder)
            operation.failures += count
            if operation.failure is None:
                operation.failure = failure
        elif isinstance(event, events.NonFatalError):
            label = event.label if event.related_to_operation else _STATEFUL
            error = _short(f"{event.info.title}: {event.info.message}")
            self._operation(label).errors.append(error)
        elif isinstance(event, events.FatalError):
            self.fatal = _short(repr(event.exception))
        elif isinstance(event, events.EngineFinished) and not self.fatal:
            reason = event.stop_reason.skip_explanation
            if reason and event.stop_reason.value == "server_unavailable":
                self.fatal = reason

    def findings(self) -> list[Finding]:
        """One finding per operation (in the document's order), then the stateful run."""
        elapsed = time.perf_counter() - self.started
        if self.fatal or not self.operations:
            return [Finding("api", f"{self.service}: API", "error", service=self.service,
                            message=self.fatal or "schemathesis checked no operation",
                            seconds=elapsed, details={"seed": self.seed})]
        ordered = sorted(self.operations.values(), key=lambda op: op.label == _STATEFUL)
        found = [self._finding(op) for op in ordered]
        return [f for f in found if f is not None]

    def _finding(self, op: _Operation) -> Finding | None:
        name = f"{self.service}: {op.label}"
        where = "" if op.label == _STATEFUL else op.label
        details: dict[str, Any] = {"seed": self.seed, "requests": op.requests}
        common: dict[str, Any] = {"service": self.service, "where": where,
                                  "seconds": round(op.seconds, 3)}
        if op.failure is not None:
            details.update(check=op.failure.check, failures=op.failures,
                           status_code=op.failure.status_code)
            return Finding("api", name, "failed", message=op.failure.message,
                           reproduce=op.failure.reproduce, trace_id=op.failure.trace_id,
                           details=details, **common)
        if op.status == Status.ERROR or op.errors:
            return Finding("api", name, "error", message="; ".join(op.errors) or
                           "the operation could not be checked", details=details, **common)
        if op.status == Status.SKIP:
            if op.label == _STATEFUL and not op.skip_reason:
                return None  # no links between operations: nothing stateful to run
            return Finding("api", name, "skipped",
                           message=op.skip_reason or "no request could be generated",
                           details=details, **common)
        return Finding("api", name, "passed", message=f"{op.requests} requests",
                       details=details, **common)
