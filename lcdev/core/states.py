"""Life-cycle states of components and services, shared by the supervisor and front ends."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ComponentState"]


class ComponentState(StrEnum):
    """Where a component is in its life: shown by ``status`` and the dashboard."""

    PENDING = "pending"
    STARTING = "starting"
    HEALTHY = "healthy"
    CRASHED = "crashed"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"
