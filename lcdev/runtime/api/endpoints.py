"""Custom endpoints of a low-code service: a guarded change of one row, an event, or a handler.

A declarative endpoint (``entity`` + ``{id}``) loads the row (404), checks the ``guard`` (409
naming the condition that failed: ``status is paid; cancel needs status in [new]``), applies
``set`` with the guard repeated in the UPDATE's WHERE (two concurrent calls cannot both win),
runs the change hook and enqueues ``publish`` — all in the caller's transaction. A ``handler``
endpoint runs Python code from the service folder instead (see handlers.py). Request bodies
are checked against the endpoint's ``request`` fields (422 naming each bad field).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lcdev.definitions import Condition, FieldDefinition, Guard, ServiceDefinition, SettingRef
from lcdev.runtime.api.crud_errors import DATABASE_INPUT_ERRORS, problem_from_database
from lcdev.runtime.api.handlers import (
    Handler,
    HandlerContext,
    HandlerError,
    HandlerLoader,
    PublishFn,
)
from lcdev.runtime.data import Change, EntityRepository, repositories
from lcdev.runtime.data.jsonschemas import check_json_schema
from lcdev.runtime.data.values import check_limits, describe, from_json, resolve_default
from lcdev.runtime.events.conditions import condition_holds, resolve_settings
from lcdev.runtime.events.outbox import ChangeHook, change_publisher, enqueue, payload_from_row
from lcdev.runtime.events.trace import using_trace_headers
from lcdev.runtime.events.wire import jsonable
from lcdev.runtime.problems import ProblemError

__all__ = [
    "EndpointRunner",
    "call_endpoint",
    "endpoint_routes",
    "failed_condition",
    "validate_request",
]


def validate_request(fields: Mapping[str, FieldDefinition], body: Any, *,
                     strict: bool = True) -> dict[str, Any]:
    """The request's values in their Python types; ``ProblemError(422)`` names every bad field.
    Unknown fields are errors when ``strict`` (HTTP), dropped otherwise (an event payload)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ProblemError(422, "the request body must be a JSON object", errors=[
            {"field": "", "message": f"expected a JSON object, found {describe(body)}"}])
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    if strict:
        errors += [{"field": k, "message": "unknown field"} for k in body if k not in fields]
    for name, definition in fields.items():
        raw = body.get(name)
        if raw is None:
            if name in body and definition.required:
                errors.append({"field": name, "message": "must not be null"})
            elif name not in body and definition.required and definition.default is None:
                errors.append({"field": name, "message": "is required"})
            values[name] = resolve_default(definition) if name not in body else None
            continue
        try:
            value = from_json(definition, raw)
            check_limits(definition, value)
            if definition.json_schema is not None:
                check_json_schema(definition.json_schema, value)
        except ValueError as exc:
            errors.append({"field": name, "message": str(exc)})
            continue
        values[name] = value
    if errors:
        count = len(errors)
        raise ProblemError(422, f"the request body has {count} invalid"
                           f" field{'s' if count > 1 else ''}", errors=errors)
    return values


# --- guards -------------------------------------------------------------------------------


def failed_condition(guard: Guard | None, row: Mapping[str, Any],
                     settings: Mapping[str, Any]) -> Condition | None:
    """The first condition of ``guard`` that ``row`` does not satisfy, or ``None``. Values
    compare by meaning, as in ``if:`` conditions (a decimal equals its setting's number)."""
    if guard is None:
        return None
    for condition in guard.conditions:
        try:
            holds = condition_holds(Guard(guard.text, (condition,)), row, settings)
        except ValueError:  # values without an order (text and a number) never satisfy it
            holds = False
        if not holds:
            return condition
    return None


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, SettingRef):
        return f"settings.{value.name}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _conflict(endpoint: str, condition: Condition, row: Mapping[str, Any]) -> ProblemError:
    text = f"{condition.field} {condition.op} {_shown(condition.value)}"
    actual = _shown(row.get(condition.field))
    return ProblemError(409, f"{condition.field} is {actual}; {endpoint} needs {text}",
                        condition=text)


# --- running endpoints --------------------------------------------------------------------


class EndpointRunner:
    """Runs the custom endpoints of one service inside a transaction the caller owns.

    Handlers are loaded when the runner is made, so a broken handler fails the service's
    start (or reload) with a :class:`HandlerError` instead of failing requests later.
    """

    def __init__(
        self, service: ServiceDefinition, repos: Mapping[str, EntityRepository], *,
        publish: PublishFn | None = None, on_change: ChangeHook | None = None,
        service_dir: Path | None = None, settings: Mapping[str, Any] | None = None,
        loader: HandlerLoader | None = None,
    ) -> None:
        self.service = service
        self.repos = repos
        self.publish: PublishFn = publish or enqueue
        self.on_change: ChangeHook = on_change or change_publisher(service)
        self.settings = resolve_settings(service) if settings is None else settings
        if loader is None and service_dir is not None:
            loader = HandlerLoader(service.name, service_dir)
        self.handlers: dict[str, Handler] = {}
        for name, ep in service.endpoints.items():
            if ep.handler is None:
                continue
            if loader is None:
                raise HandlerError(f"endpoint '{name}': handler '{ep.handler}' needs the"
                                   " service folder to load from")
            self.handlers[name] = loader.load(ep.handler)

    async def call(self, name: str, conn: Any, *, path_params: Mapping[str, str],
                   body: Any, headers: Mapping[str, str] | None = None,
                   strict: bool = True) -> dict[str, Any] | None:
        """Run endpoint ``name`` on ``conn`` (inside its transaction); returns the changed row,
        the handler's result, or the published event's id.

        Raises ``ProblemError`` for bad input, a failed guard, or a write the schema refuses
        (a unique value taken: 409; a broken rule: 422); the caller's transaction must then
        be rolled back.
        """
        try:
            if headers is None:  # the caller's trace context (a consumer sets it) stays
                return await self._call(name, conn, path_params, body, strict)
            with using_trace_headers(headers):
                return await self._call(name, conn, path_params, body, strict)
        except DATABASE_INPUT_ERRORS as exc:
            table = getattr(exc, "table_name", None)
            repo = next((r for r in self.repos.values() if r.model.table == table), None)
            if repo is None:
                raise ProblemError(422, "a value cannot be stored: "
                                   + str(exc).split("\n")[0]) from exc
            raise problem_from_database(exc, repo) from exc

    async def _call(self, name: str, conn: Any, path_params: Mapping[str, str], body: Any,
                    strict: bool) -> dict[str, Any] | None:
        ep = self.service.endpoints[name]
        if ep.request:
            values = validate_request(ep.request, body, strict=strict)
        else:  # no declared fields: the body (if any) is passed on as it is
            validate_request({}, body, strict=False)
            values = dict(body or {})
        handler = self.handlers.get(name)
        if handler is not None:
            ctx = HandlerContext(self.service, name, conn, self.repos, values,
                                 dict(path_params), self.settings, self.publish,
                                 self.on_change)
            return await handler(ctx)
        row: dict[str, Any] | None = None
        if ep.entity is not None and "id" in path_params:
            row = await self._change(name, conn, ep.entity, path_params["id"])
        if ep.publish is None:
            return row
        payload = (payload_from_row(self.service, ep.publish, row) if row is not None
                   else {k: v for k, v in values.items() if k in self.service.publishes[
                       ep.publish].payload})
        event_id = await self.publish(conn, self.service, ep.publish, payload)
        return row if row is not None else {"event": ep.publish, "event_id": str(event_id)}

    async def _change(self, name: str, conn: Any, entity: str, raw_id: str) -> dict[str, Any]:
        ep = self.service.endpoints[name]
        repo = self.repos[entity]
        missing = ProblemError(404, f"no {entity} with id '{raw_id}'")
        try:
            row_id = uuid.UUID(raw_id)
        except ValueError:
            raise missing from None
        row = await repo.get(conn, row_id)
        if row is None:
            raise missing
        failed = failed_condition(ep.guard, row, self.settings)
        if failed is not None:
            raise _conflict(name, failed, row)
        if not ep.set_values:
            return row
        changes: list[Change] = []
        updated = await repo.update(conn, row_id, _set_values(self.service, entity,
                                                              ep.set_values),
                                    guard=ep.guard, changes=changes)
        if updated is None:  # changed (or deleted) since it was read: say what holds now
            current = await repo.get(conn, row_id)
            if current is None:
                raise missing
            failed = failed_condition(ep.guard, current, self.settings)
            raise _conflict(name, failed, current) if failed is not None else ProblemError(
                409, f"the {entity} changed while {name} ran; try again")
        await self.on_change(conn, entity, "updated", updated)
        for child_entity, kind, child in changes:
            await self.on_change(conn, child_entity, kind, child)
        return updated

    def routes(self, pool: Any) -> list[Route]:
        """One starlette route per endpoint, each call in one transaction of ``pool`` (an
        asyncpg pool, or a function returning it when the app makes it later)."""
        return [Route(self.service.endpoint_path(name), self._http(pool, name),
                      methods=[ep.method], name=f"endpoint:{name}")
                for name, ep in self.service.endpoints.items()]

    def _http(self, pool: Any, name: str) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await request.body()
                try:
                    body = orjson.loads(raw) if raw.strip() else None
                except orjson.JSONDecodeError as exc:
                    raise ProblemError(400, f"the request body is not valid JSON: {exc}") from None
                source = pool() if callable(pool) else pool
                # The request's trace context is current already (api/tracing.py, middleware).
                async with source.acquire() as conn, conn.transaction():
                    result = await self.call(name, conn, path_params=request.path_params,
                                             body=body)
            except ProblemError as problem:
                return problem.response()
            if result is None:
                return Response(status_code=204)
            return Response(orjson.dumps(jsonable(result)), media_type="application/json")

        return endpoint


def _set_values(service: ServiceDefinition, entity: str,
                values: Mapping[str, Any]) -> dict[str, Any]:
    fields = service.entities[entity].fields
    out: dict[str, Any] = {}
    for name, value in values.items():
        definition = fields[name]
        if value == "now" and definition.type in ("date", "datetime"):
            out[name] = resolve_default(definition.model_copy(update={"default": "now"}))
        elif value is None or definition.type == "json":
            out[name] = value
        else:
            out[name] = from_json(definition, value if definition.type in (
                "integer", "decimal", "boolean") else str(value))
    return out


def endpoint_routes(
    service: ServiceDefinition, pool: Any, repos: Mapping[str, EntityRepository],
    publish: PublishFn | None = None, *, on_change: ChangeHook | None = None,
    service_dir: Path | None = None, settings: Mapping[str, Any] | None = None,
) -> list[Route]:
    """Starlette routes of the service's custom endpoints (see :class:`EndpointRunner`)."""
    runner = EndpointRunner(service, repos, publish=publish, on_change=on_change,
                            service_dir=service_dir, settings=settings)
    return runner.routes(pool)


_RUNNERS: dict[tuple[int, Path | None], tuple[ServiceDefinition, EndpointRunner]] = {}


def _runner(service: ServiceDefinition, service_dir: Path | None) -> EndpointRunner:
    """One runner per service definition (and folder), made on first use."""
    key = (id(service), service_dir)
    found = _RUNNERS.get(key)
    if found is None or found[0] is not service:
        while len(_RUNNERS) >= 16:  # old definitions after reloads
            del _RUNNERS[next(iter(_RUNNERS))]
        found = _RUNNERS[key] = (service, EndpointRunner(
            service, repositories(service), service_dir=service_dir))
    return found[1]


async def call_endpoint(
    service: ServiceDefinition, name: str, conn: Any, *, path_params: Mapping[str, str],
    body: Any, runner: EndpointRunner | None = None, service_dir: Path | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run endpoint ``name`` with ``body`` (an event payload: unknown fields are dropped) on
    ``conn``, inside the caller's transaction — the consumers' ``action: call``.

    Pass the app's ``runner`` to share its repositories, hooks and loaded handlers; without
    it one runner per service definition is made on first use (``service_dir`` is needed for
    handler endpoints).
    """
    if runner is None:
        runner = _runner(service, service_dir)
    result = await runner.call(name, conn, path_params=path_params, body=body,
                               headers=headers, strict=False)
    return result or {}
