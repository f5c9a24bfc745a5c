"""A small workspace running on the ``InMemoryBackend`` with a ``Reloader`` on top.

Four services: ``producer`` (publishes ``ItemAdded``), ``consumer`` (consumes it), ``loner``
(no events) and ``hello`` (a code service whose env uses the secret ``greeting``). The stack
is postgres, kafka and gateway as in-memory instances answering tcp/http probes; low-code
swaps go to an ``InMemoryServiceReloadClient``. Tests edit real files and hand the reloader a
real ``ChangeBatch``, as the watcher would.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lcdev.backends.memory import InMemoryBackend
from lcdev.core.events import Event
from lcdev.core.layout import WorkspaceLayout
from lcdev.definitions import LoadedWorkspace, load_workspace
from lcdev.definitions.stack import StackDefinition
from lcdev.supervisor.reloader import Reloader
from lcdev.supervisor.resolve import plan_stack, write_gateway_config
from lcdev.supervisor.service_reload import InMemoryServiceReloadClient
from lcdev.supervisor.supervisor import Supervisor
from lcdev.supervisor.watch import ChangeBatch
from tests.unit.memstack import POLICY

__all__ = ["FILES", "ReloadStack", "batch", "reload_stack", "write"]

STACK = StackDefinition.model_validate({"components": {
    "postgres": {"port": 0, "readiness": {"probe": "tcp", "timeout": 0.5},
                 "native": {"driver": "command", "command": ["pg"]}},
    "kafka": {"port": 0, "readiness": {"probe": "tcp", "timeout": 0.5},
              "native": {"driver": "command", "command": ["kafka"]}},
    "gateway": {"port": "workspace", "depends_on": ["postgres", "kafka"],
                "readiness": {"probe": "http", "path": "/_lcdev/health", "timeout": 0.5},
                "native": {"driver": "python", "module": "lcdev.gateway"}},
}})

WORKSPACE = """\
name: rel
services: ["services/*"]
gateway: {port: 0}
ports: {postgres: 0, kafka: 0}
secrets:
  greeting: {dev_default: "hi"}
"""

PRODUCER = """\
name: producer
version: 1.0.0
entities:
  Item:
    fields:
      title: string(80)!
publishes:
  ItemAdded:
    entity: Item
    when: created
    key: id
"""

CONSUMER = """\
name: consumer
version: 1.0.0
entities:
  Seen:
    fields:
      title: string(80)
consumes:
  - event: ItemAdded
    from: producer
    action: insert
    entity: Seen
"""

LONER = """\
name: loner
version: 1.0.0
entities:
  Note:
    fields:
      text: string(200)!
"""

HELLO = """\
name: hello
version: 0.1.0
kind: process
process:
  command: ["true"]
  health: /hello/health
  watch: ["*.py"]
  env:
    GREETING: "${secrets.greeting}"
"""

FILES = {
    "lcdev.yaml": WORKSPACE,
    "services/producer/service.yaml": PRODUCER,
    "services/consumer/service.yaml": CONSUMER,
    "services/loner/service.yaml": LONER,
    "services/hello/service.yaml": HELLO,
    "services/hello/app.py": "print('v1')\n",
}


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def batch(*paths: Path) -> ChangeBatch:
    """What the watcher reports for ``paths`` saved just now."""
    now = time.time()
    saved = max((p.stat().st_mtime for p in paths if p.exists()), default=now)
    return ChangeBatch(paths=frozenset(paths), saved_at=min(saved, now), detected_at=now)


@dataclass
class ReloadStack:
    root: Path
    backend: InMemoryBackend
    supervisor: Supervisor
    client: InMemoryServiceReloadClient
    reloader: Reloader

    def gateway_config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (WorkspaceLayout(self.root).run_dir / "gateway.json").read_text())
        return data

    def upstreams(self) -> dict[str, str]:
        return {r["service"]: r["upstream"] for r in self.gateway_config()["routes"]}

    def history(self) -> list[dict[str, Any]]:
        path = WorkspaceLayout(self.root).reloads_file
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    async def save(self, relative: str, text: str) -> list[Event]:
        """Write a file and reload for it, as the watcher would."""
        return await self.reloader.handle(batch(write(self.root, relative, text)))


def make_files(root: Path) -> LoadedWorkspace:
    for relative, text in FILES.items():
        write(root, relative, text)
    loaded = load_workspace(root)
    assert loaded.ok, [str(p) for p in loaded.problems]
    return loaded


@asynccontextmanager
async def reload_stack(root: Path, client: InMemoryServiceReloadClient | None = None
                       ) -> AsyncIterator[ReloadStack]:
    """The workspace written to ``root`` and running; stopped afterwards."""
    loaded = make_files(root)
    layout = WorkspaceLayout(root)
    plan = plan_stack(loaded, STACK, layout)
    write_gateway_config(plan, loaded)
    backend = InMemoryBackend()
    supervisor = Supervisor(layout, backend, plan, POLICY)
    assert await supervisor.start_all()
    client = client or InMemoryServiceReloadClient()
    reloader = Reloader(supervisor, loaded, client, env_for=lambda component: {"FROM": "test"})
    try:
        yield ReloadStack(root, backend, supervisor, client, reloader)
    finally:
        await reloader.aclose()
        await supervisor.stop_all(remove_data=False)
