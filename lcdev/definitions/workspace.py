"""The ``lcdev.yaml`` model: workspace name, stack, service globs, ports, gateway and secrets."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from lcdev.definitions.common import DefinitionModel, ShortForm, WorkspaceName
from lcdev.definitions.issues import Issues

__all__ = ["SecretRef", "WorkspaceDefinition", "WorkspaceGateway"]


def _no_inline(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "a secret must be a reference such as {env: VAR, default: ...} or {file: path};"
            " inline values are not allowed (use {dev_default: ...} for a development-only value)"
        )
    return value


class SecretRef(DefinitionModel):
    """Where a secret comes from: an environment variable, a file, or a development default."""

    env: str | None = Field(None, description="Environment variable holding the secret.")
    default: str | None = Field(None, description="Value used when 'env' is unset (dev only).")
    file: str | None = Field(None, description="File holding the secret, relative to the root.")
    dev_default: str | None = Field(
        None, description="An inline value for local development only; never for production."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SecretRef:
        issues = Issues()
        sources = [k for k in ("env", "file", "dev_default") if getattr(self, k) is not None]
        if len(sources) != 1:
            issues.add("a secret needs exactly one of 'env', 'file' or 'dev_default'")
        if self.default is not None and self.env is None:
            issues.add("'default' is only used with 'env'", "default")
        issues.raise_if_any()
        return self

    def resolve(self, root: Path, environ: Mapping[str, str] | None = None) -> str | None:
        """The secret's value, or None when it is not available."""
        environ = os.environ if environ is None else environ
        if self.env is not None:
            return environ.get(self.env, self.default)
        if self.file is not None:
            path = root / self.file
            return path.read_text(encoding="utf-8").strip() if path.is_file() else None
        return self.dev_default


SecretSpec = Annotated[
    SecretRef,
    ShortForm(_no_inline, {"not": {"type": "string"}}),
]


class WorkspaceGateway(DefinitionModel):
    """Where the gateway listens."""

    port: int = Field(8800, ge=0, le=65535, description="Gateway port; 0 picks a free port.")
    host: str = Field("127.0.0.1", description="Interface the gateway binds.")


_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


class WorkspaceTelemetry(DefinitionModel):
    """Traces, logs and metrics: the local store and the OTLP receiver feeding it."""

    enabled: bool = Field(True, description="Collect traces, logs and metrics locally.")
    port: int = Field(
        4318, ge=0, le=65535,
        description="OTLP/HTTP receiver port on 127.0.0.1. When the default 4318 is taken, a "
        "free port is used; a port set here must be free. 0 picks a free port.",
    )
    forward: str | None = Field(
        None, description="External OTLP/HTTP endpoint (Jaeger, Grafana, Honeycomb) that "
        "everything is also forwarded to, e.g. http://localhost:4318.",
    )
    forward_headers: dict[str, str] = Field(
        default_factory=dict, description="HTTP headers sent with forwarded telemetry."
    )
    max_traces_per_second: int = Field(
        100, ge=0,
        description="New traces each process starts per second at most; beyond it, under "
        "load, requests are not traced (a trace is always whole). 0 traces every request.",
    )
    max_size_mb: int = Field(
        256, ge=8, description="Store size bound in MiB; the oldest data is dropped first."
    )
    max_age_hours: int = Field(168, ge=1, description="Data older than this is dropped.")

    @field_validator("forward")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(f"expected an http(s) URL, found '{value}'")
        return value


class WorkspaceDefinition(DefinitionModel):
    """A workspace: the ``lcdev.yaml`` at its root."""

    name: WorkspaceName = Field(description="Workspace name: lower-case letters, digits and '-'.")
    description: str | None = Field(None, description="What the system is.")
    stack: str = Field("default", description="Stack file name: stacks/<stack>.yaml.")
    services: list[str] = Field(
        default_factory=lambda: ["services/*"],
        description="Globs of service folders (each with a service.yaml), relative to the root.",
    )
    gateway: WorkspaceGateway = Field(
        default_factory=WorkspaceGateway, description="Gateway listener."
    )
    ports: dict[str, Annotated[int, Field(ge=0, le=65535)]] = Field(
        default_factory=dict,
        description="Component name -> port override (postgres: 15432); 0 picks a free port.",
    )
    secrets: dict[str, SecretSpec] = Field(
        default_factory=dict, description="Secret name -> where its value comes from."
    )
    telemetry: WorkspaceTelemetry = Field(
        default_factory=WorkspaceTelemetry,
        description="Traces, logs and metrics collected into .lcdev/telemetry.",
    )

    @field_validator("services")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        for glob in value:
            if glob.startswith("/") or ".." in Path(glob).parts:
                raise ValueError(f"service globs must stay inside the workspace, found '{glob}'")
        return value
