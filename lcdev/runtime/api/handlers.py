"""The Python escape hatch: ``handler: module:function`` endpoints run code from the service
folder inside the endpoint's transaction. See docs/escape-hatch.md.

Handler modules are loaded by file path under a private package per service
(``_lcdev_handlers.<service>``) whose ``__path__`` is the service folder, so a handler can use
relative imports of its sibling modules (``from .pricing import price``) and nothing is added
to ``sys.path``. :meth:`HandlerLoader.invalidate` forgets them for hot reload (and
:meth:`HandlerLoader.restore` puts them back when a reload fails). Every module of that package,
the handler module and the siblings it imports, is compiled from its current source: bytecode
caches are keyed by the file's mtime in whole seconds and its size, so an edit saved within the
same second at the same size would otherwise be served stale.

A module that does not import fails with a :class:`HandlerError` whose ``file`` and ``line``
locate the error in the service folder (the syntax error, or the deepest frame of the service's
own code).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import inspect
import sys
import types
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol
from uuid import UUID

from lcdev.definitions import Guard, ServiceDefinition
from lcdev.runtime.data import Change, ChangeKind, EntityRepository
from lcdev.runtime.data.naming import schema_name, table_name
from lcdev.runtime.events.outbox import ChangeHook
from lcdev.runtime.problems import ProblemError

__all__ = ["Handler", "HandlerContext", "HandlerError", "HandlerLoader", "PublishFn"]


class PublishFn(Protocol):
    """``enqueue`` (lcdev.runtime.events.outbox): an event into the outbox of ``conn``'s
    transaction; checks the payload against the event's fields, returns the event id."""

    def __call__(self, conn: Any, service: ServiceDefinition, event_name: str,
                 payload: Mapping[str, Any], *, key: str | None = None,
                 headers: Mapping[str, str] | None = None) -> Awaitable[UUID]: ...


@dataclass
class HandlerContext:
    """What a handler gets: the transaction, the repositories, the request and helpers.

    Writes through :meth:`insert`, :meth:`update`, :meth:`update_where` and :meth:`delete` run
    the service's change hook, so the events declared for those changes (``when: created``
    ...) are enqueued in the same transaction, exactly as for CRUD. Raise
    ``ctx.ProblemError(409, "...")`` for a clean 4xx; the whole transaction is rolled back.
    """

    service: ServiceDefinition
    endpoint: str
    conn: Any
    repos: Mapping[str, EntityRepository]
    body: dict[str, Any]
    path_params: dict[str, str]
    settings: Mapping[str, Any]
    publish_fn: PublishFn
    on_change: ChangeHook
    ProblemError: ClassVar[type[ProblemError]] = ProblemError

    def table(self, entity: str) -> str:
        """The quoted table of ``entity`` for raw SQL: ``"inventory"."stock"``."""
        if entity not in self.service.entities:
            raise KeyError(f"service '{self.service.name}' has no entity '{entity}'")
        return f'"{schema_name(self.service)}"."{table_name(entity)}"'

    async def _hooks(self, entity: str, kind: ChangeKind, row: dict[str, Any],
                     changes: list[Change]) -> None:
        await self.on_change(self.conn, entity, kind, row)
        for child_entity, child_kind, child in changes:
            await self.on_change(self.conn, child_entity, child_kind, child)

    async def insert(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        """Insert a row (Python values; child collections as lists of dicts) and run the
        change hook for it and its children; returns the stored row."""
        changes: list[Change] = []
        row = await self.repos[entity].insert(self.conn, values, changes=changes)
        await self._hooks(entity, "created", row, changes)
        return row

    async def update(self, entity: str, id: Any, values: dict[str, Any], *,
                     guard: Guard | None = None) -> dict[str, Any] | None:
        """Change some fields of a row and run the change hook; ``None`` when there is no such
        row. With ``guard``, a row that does not satisfy it raises ``ProblemError(409)``."""
        changes: list[Change] = []
        row = await self.repos[entity].update(self.conn, id, values, guard=guard,
                                              changes=changes)
        if row is not None:
            await self._hooks(entity, "updated", row, changes)
        return row

    async def update_where(self, entity: str, match: dict[str, Any],
                           values: dict[str, Any]) -> list[dict[str, Any]]:
        """Change every row whose fields equal ``match``; runs the hook for each."""
        changes: list[Change] = []
        rows = await self.repos[entity].update_where(self.conn, match, values, changes=changes)
        for row in rows:
            await self.on_change(self.conn, entity, "updated", row)
        for child_entity, child_kind, child in changes:
            await self.on_change(self.conn, child_entity, child_kind, child)
        return rows

    async def delete(self, entity: str, id: Any) -> bool:
        """Delete a row (and its children) and run the hook with the rows as they were."""
        changes: list[Change] = []
        row = await self.repos[entity].delete_row(self.conn, id, changes=changes)
        if row is None:
            return False
        await self._hooks(entity, "deleted", row, changes)
        return True

    async def publish(self, event_name: str, payload: Mapping[str, Any],
                      key: str | None = None) -> UUID:
        """Enqueue one of the service's events in this transaction; returns its id.

        ``payload`` may hold Python values (UUID, Decimal, datetime); it must match the
        event's declared fields, else ``EventPayloadError`` (a bug: the call fails with 500).
        ``key`` defaults to the event's ``key`` field (else its first uuid field).
        """
        return await self.publish_fn(self.conn, self.service, event_name, payload, key=key)


Handler = Callable[[HandlerContext], Awaitable[dict[str, Any] | None]]


class HandlerError(Exception):
    """A handler that cannot be loaded: missing file or function, import error, not async.
    ``file`` and ``line`` locate an import error in the service folder (else ``None``)."""

    def __init__(self, message: str, *, file: Path | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


_ROOT_PACKAGE = "_lcdev_handlers"


class _FreshLoader(importlib.machinery.SourceFileLoader):
    """Compiles the source each time it is loaded, so an edit is never hidden by bytecode."""

    def get_code(self, fullname: str) -> types.CodeType:
        return compile(self.get_data(self.path), self.path, "exec", dont_inherit=True)


class _FreshFinder:
    """Finds the modules below a service's handler package (siblings imported by a handler,
    ``from .pricing import price``) and loads them with :class:`_FreshLoader`."""

    def find_spec(self, fullname: str, path: Any = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_ROOT_PACKAGE + ".") or fullname.count(".") < 2 or not path:
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            base = Path(entry) / name
            for file, package in ((base / "__init__.py", True), (base.with_suffix(".py"), False)):
                if file.is_file():
                    return importlib.util.spec_from_file_location(
                        fullname, file, loader=_FreshLoader(fullname, str(file)),
                        submodule_search_locations=[str(base)] if package else None)
        return None


_FINDER = _FreshFinder()


def _error_location(exc: BaseException, folder: Path) -> tuple[Path | None, int | None]:
    """(file, line) of an import error inside ``folder``: the syntax error, else the deepest
    frame of the service's own code."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return Path(exc.filename), exc.lineno
    where: tuple[Path | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        filename = Path(tb.tb_frame.f_code.co_filename)
        if filename.is_relative_to(folder):
            where = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


class HandlerLoader:
    """Loads ``module:function`` handlers from one service folder."""

    def __init__(self, service: str, folder: Path) -> None:
        self.folder = folder.resolve()
        self.package = f"{_ROOT_PACKAGE}." + service.replace("-", "_")
        self._cache: dict[str, Handler] = {}
        self._modules: dict[str, types.ModuleType] = {}

    def _ensure_package(self) -> None:
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
        for name, path in ((_ROOT_PACKAGE, []), (self.package, [str(self.folder)])):
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = list(path)
                module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
                module.__spec__.submodule_search_locations = module.__path__
                sys.modules[name] = module

    def load(self, spec: str) -> Handler:
        """The async function named by ``spec``; raises :class:`HandlerError`."""
        if spec in self._cache:
            return self._cache[spec]
        module_name, _, function = spec.partition(":")
        relative = Path(*module_name.split("."))
        path = self.folder / relative.with_suffix(".py")
        if not path.is_file():
            path = self.folder / relative / "__init__.py"
        if not path.is_file():
            raise HandlerError(f"handler '{spec}': no file {relative.with_suffix('.py')} in"
                               f" {self.folder}")
        self._ensure_package()
        qualified = f"{self.package}.{module_name}"
        module = self._modules.get(qualified) or self._import(spec, qualified, path)
        target = getattr(module, function, None)
        if target is None:
            raise HandlerError(f"handler '{spec}': {path.name} has no function '{function}'")
        if not inspect.iscoroutinefunction(target):
            raise HandlerError(f"handler '{spec}': '{function}' must be an async function"
                               " (async def)")
        handler: Handler = target
        self._cache[spec] = handler
        return handler

    def _import(self, spec: str, qualified: str, path: Path) -> types.ModuleType:
        loader = _FreshLoader(qualified, str(path))
        is_package = path.name == "__init__.py"
        module_spec = importlib.util.spec_from_file_location(
            qualified, path, loader=loader,
            submodule_search_locations=[str(path.parent)] if is_package else None)
        assert module_spec is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[qualified] = module
        try:
            loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(qualified, None)
            file, line = _error_location(exc, self.folder)
            # A SyntaxError's text repeats its file and line, which ``file``/``line`` say.
            said = exc.msg if isinstance(exc, SyntaxError) else exc
            raise HandlerError(f"handler '{spec}': importing {path.name} failed:"
                               f" {type(exc).__name__}: {said}", file=file, line=line) from exc
        self._modules[qualified] = module
        return module

    def invalidate(self) -> dict[str, types.ModuleType]:
        """Forget every loaded handler module of this service (the next load re-imports);
        returns them, for :meth:`restore`."""
        self._cache.clear()
        self._modules.clear()
        forgotten = {name: sys.modules.pop(name) for name in list(sys.modules)
                     if name == self.package or name.startswith(self.package + ".")}
        importlib.invalidate_caches()
        return forgotten

    def restore(self, modules: dict[str, types.ModuleType]) -> None:
        """Put back the modules :meth:`invalidate` returned, dropping any imported since (a
        reload that failed leaves the modules of the running version in place)."""
        self.invalidate()
        sys.modules.update(modules)
