"""The stack language: infrastructure components (postgres, kafka, gateway) described as data.

A stack file (``stacks/<name>.yaml``) lists components. Each says how to run natively and in
Docker, its port, its dependencies and how lcdev probes that it is ready. Backends read these
models; nothing here knows how to start anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "ComponentDefinition",
    "DockerRecipe",
    "NativeRecipe",
    "Readiness",
    "StackDefinition",
    "bundled_stacks_dir",
    "parse_seconds",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def parse_seconds(value: object) -> object:
    """Turn ``"100ms"``, ``"5s"``, ``"2m"`` or a number into seconds; leave anything else to
    pydantic so it reports the wrong type."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"'{value}' is not a duration (expected e.g. 500ms, 30s, 2m)")
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(parse_seconds), Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Readiness(_Strict):
    """How lcdev decides a component is ready: a real round trip, polled every ~100 ms."""

    probe: Literal["sql", "kafka", "http", "tcp"] = Field(
        description="sql: a SQL round trip; kafka: a metadata request; http: GET `path` "
        "answers 2xx; tcp: the port accepts a connection"
    )
    path: str = Field("/", description="Path probed when probe is http")
    timeout: Seconds = Field(30.0, description="Give up after this long (e.g. 30s)")


class NativeRecipe(_Strict):
    """How to run the component as a native process (the embedded default)."""

    driver: Literal["postgres", "tansu", "python", "command", "lowcode"] = Field(
        description="postgres and tansu locate their binaries; python runs `module` with "
        "lcdev's interpreter; command runs `command`; lowcode serves a service definition "
        "with lcdev's runtime (used for services, not in stack files)"
    )
    module: str | None = Field(None, description="Python module for driver python")
    command: list[str] | None = Field(
        None, description="Command for driver command; {port} and {data_dir} are substituted"
    )


class DockerRecipe(_Strict):
    """How to run the component as a container (used by the Docker backend)."""

    image: str = Field(description="Image reference; a workspace may override it")
    container_port: int = Field(description="Port the process listens on inside the container")
    env: dict[str, str] = Field(default_factory=dict)
    volumes: dict[str, str] = Field(
        default_factory=dict, description="Named volume -> mount path inside the container"
    )


class ComponentDefinition(_Strict):
    """One piece of infrastructure: its port, dependencies, readiness and run recipes."""

    description: str = ""
    port: int | Literal["workspace"] = Field(
        description="Host port on 127.0.0.1, or `workspace` for the gateway port of lcdev.yaml"
    )
    depends_on: list[str] = Field(default_factory=list)
    readiness: Readiness
    native: NativeRecipe
    docker: DockerRecipe | None = None


class StackDefinition(_Strict):
    """A whole stack file: named components."""

    components: dict[str, ComponentDefinition]


def bundled_stacks_dir() -> Path:
    """Where the stacks shipped with lcdev live (repo checkout first, then the wheel's copy)."""
    package_dir = Path(__file__).resolve().parent.parent
    in_checkout = package_dir.parent / "stacks"
    if in_checkout.is_dir():
        return in_checkout
    return package_dir / "_data" / "stacks"
