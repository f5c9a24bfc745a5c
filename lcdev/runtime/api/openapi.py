"""The OpenAPI 3.1 document of a low-code service, generated from its definition.

It describes exactly what the service serves, so contract tests (schemathesis) can hold it to
its word: every CRUD route the entities enable with its list query parameters, request and
response schemas from the field types and limits, the custom endpoints, every problem
(``application/problem+json``) an operation can answer, links from create and list to the
operations on the row, and the gateway's security schemes. Paths are the full gateway paths
(the gateway does not rewrite them), so ``servers`` is the relative ``/``.
"""

from __future__ import annotations

import re
from typing import Any

from lcdev.definitions import AuthPolicy, FieldDefinition, RateLimit, ServiceDefinition, plural_path
from lcdev.runtime.api.jsonschema import (
    NO_NUL,
    SCHEMA_REF,
    entity_example,
    entity_input_schema,
    entity_schema,
    field_schema,
    fields_example,
    fields_schema,
    kind,
    row_example,
)
from lcdev.runtime.data.listquery import DEFAULT_LIMIT, MAX_LIMIT, OPERATORS
from lcdev.runtime.problems import PROBLEM_JSON

__all__ = ["OPENAPI_VERSION", "openapi_document"]

OPENAPI_VERSION = "3.1.0"
_JSON = "application/json"
_PARAM = re.compile(r"\{([^}/]+)\}")
_OPS = {("GET", False): "list", ("POST", False): "create", ("GET", True): "get",
        ("PATCH", True): "update", ("PUT", True): "replace", ("DELETE", True): "delete"}


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", text) if part)


def operation_id(entity: str, op: str) -> str:
    """``listOrders``, ``createOrder``, ``getOrder``, ``updateOrder``, ``replaceOrder``..."""
    return f"list{_camel(plural_path(entity))}" if op == "list" else f"{op}{entity}"


def endpoint_operation_id(service: ServiceDefinition, name: str) -> str:
    """``reserve_stock`` -> ``reserveStock`` (``listOrdersEndpoint`` if CRUD has that id)."""
    camel = _camel(name)
    found = camel[:1].lower() + camel[1:]
    crud = {operation_id(e, op) for e in service.entities
            for op in ("list", "create", "get", "update", "replace", "delete")}
    return f"{found}Endpoint" if found in crud else found


def openapi_document(service: ServiceDefinition) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``service`` as a JSON-ready dict."""
    components = components_base()
    paths: dict[str, dict[str, Any]] = {}
    policy = Policy(service)
    for entity in service.entities:
        components["schemas"][entity] = entity_schema(service, entity)
        ops = {op for op in service.entities[entity].crud}
        if "list" in ops:
            components["schemas"][f"{entity}Page"] = _page_schema(entity)
        if ops & {"create", "update"}:
            components["schemas"][f"{entity}Create"] = entity_input_schema(service, entity)
        if "update" in ops:
            components["schemas"][f"{entity}Patch"] = entity_input_schema(
                service, entity, partial=True)
        for method, path in service.crud_routes(entity):
            op = _OPS[(method, path.endswith("/{id}"))]
            operation = _crud_operation(service, entity, op)
            operation_policy(operation, policy, method, path)
            paths.setdefault(path, {})[method.lower()] = operation
    for name, endpoint in service.endpoints.items():
        path = service.endpoint_path(name)
        operation = _endpoint_operation(service, name)
        operation_policy(operation, policy, endpoint.method, path)
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    _link(service, paths)
    components["securitySchemes"] = policy.schemes()
    if not components["securitySchemes"]:
        del components["securitySchemes"]
    info: dict[str, Any] = {"title": service.name, "version": service.version}
    if service.description:
        info["description"] = service.description
    if service.owner:
        info["contact"] = {"name": service.owner}
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION, "info": info,
        "servers": [{"url": "/", "description": "The lcdev gateway (paths are not rewritten)"}],
    }
    if policy.default_security() is not None:
        doc["security"] = policy.default_security()
    tags = [{"name": e, **({"description": d.description} if d.description else {})}
            for e, d in service.entities.items()]
    if any(ep.entity is None for ep in service.endpoints.values()):
        tags.append({"name": "endpoints", "description": "Custom endpoints."})
    doc.update(tags=tags, paths=paths, components=components)
    return doc


def _page_schema(entity: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": SCHEMA_REF + entity}},
            "next_cursor": {"type": ["string", "null"],
                            "description": "Pass as ?cursor= for the next page; null at the end."},
            "total": {"type": ["integer", "null"], "minimum": 0,
                      "description": "Rows matching the filters with ?count=true, else null."},
        },
        "required": ["items", "next_cursor", "total"],
        "additionalProperties": False,
    }


def _json_content(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {_JSON: media}


def _id_parameter(entity: str) -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "description": f"The {entity}'s id.",
            "schema": {"type": "string", "format": "uuid"}}


def _crud_operation(service: ServiceDefinition, entity: str, op: str) -> dict[str, Any]:
    ref = {"$ref": SCHEMA_REF + entity}
    row = row_example(service, entity)
    operation: dict[str, Any] = {"operationId": operation_id(entity, op),
                                 "tags": [entity]}
    a = f"an {entity}" if entity[:1] in "AEIOU" else f"a {entity}"
    summaries = {"list": f"List {entity} rows", "create": f"Create {a}", "get": f"Get {a}",
                 "update": f"Change some fields of {a}", "replace": f"Replace {a}",
                 "delete": f"Delete {a}"}
    operation["summary"] = summaries[op]
    ok = {"description": "OK", "headers": _headers()}
    if op == "list":
        operation["parameters"] = list_parameters(service, entity)
        page = {"items": [row], "next_cursor": None, "total": None}
        responses = {"200": {**ok, "content": _json_content({"$ref": f"{SCHEMA_REF}{entity}Page"},
                                                            page)}}
        errors = [400]
    elif op == "create":
        body = entity_example(service, entity)
        operation["requestBody"] = {"required": True, "content": _json_content(
            {"$ref": f"{SCHEMA_REF}{entity}Create"}, body)}
        headers = {**_headers(), "Location": {"description": "The path of the new row.",
                                              "schema": {"type": "string"}}}
        responses = {"201": {"description": "Created", "headers": headers,
                             "content": _json_content(ref, row)}}
        errors = [400, 409, 413, 415, 422]
    elif op in ("update", "replace"):
        operation["parameters"] = [_id_parameter(entity)]
        schema = f"{entity}Patch" if op == "update" else f"{entity}Create"
        operation["requestBody"] = {"required": True, "content": _json_content(
            {"$ref": SCHEMA_REF + schema}, entity_example(service, entity))}
        responses = {"200": {**ok, "content": _json_content(ref, row)}}
        errors = [400, 404, 409, 413, 415, 422]
    elif op == "get":
        operation["parameters"] = [_id_parameter(entity)]
        responses = {"200": {**ok, "content": _json_content(ref, row)}}
        errors = [404]
    else:
        operation["parameters"] = [_id_parameter(entity)]
        responses = {"204": {"description": "Deleted", "headers": _headers()}}
        errors = [404, 409]
    operation["responses"] = {**responses, **problem_refs(errors)}
    return operation


def _endpoint_operation(service: ServiceDefinition, name: str) -> dict[str, Any]:
    ep = service.endpoints[name]
    operation: dict[str, Any] = {"operationId": endpoint_operation_id(service, name),
                                 "tags": [ep.entity or "endpoints"]}
    if ep.summary:
        operation["summary"] = ep.summary
    notes = []
    if ep.guard is not None:
        notes.append(f"Needs `{ep.guard.text}` (else 409 Conflict).")
    if ep.set_values:
        notes.append("Sets " + ", ".join(f"`{k}` = `{v}`" for k, v in ep.set_values.items())
                     + ".")
    if ep.publish:
        notes.append(f"Publishes `{ep.publish}` when the change commits.")
    if ep.handler:
        notes.append(f"Handled by `{ep.handler}`.")
    operation["description"] = " ".join(notes)
    params = []
    for pname in _PARAM.findall(service.endpoint_path(name)):
        if pname == "id" and ep.entity is not None:
            params.append(_id_parameter(ep.entity))
        else:
            params.append({"name": pname, "in": "path", "required": True,
                           "schema": {"type": "string"}})
    if params:
        operation["parameters"] = params
    errors: set[int] = set()
    if ep.request:
        example = fields_example(ep.request)
        operation["requestBody"] = {"required": True, "content": _json_content(
            fields_schema(ep.request), example)}
        errors |= {400, 413, 415, 422}
    if ep.entity is not None and "{id}" in ep.path:
        errors.add(404)
    if ep.entity is not None:
        errors.add(409)
    if ep.handler is not None:
        errors |= {404, 409, 422}
        responses: dict[str, Any] = {
            "200": {"description": "The handler's result",
                    "headers": _headers(),
                    "content": _json_content({"type": "object"})},
            "204": {"description": "Done; the handler returned nothing",
                    "headers": _headers()},
        }
    elif ep.entity is not None:
        responses = {"200": {"description": f"The changed {ep.entity}",
                             "headers": _headers(),
                             "content": _json_content({"$ref": SCHEMA_REF + ep.entity},
                                                      row_example(service, ep.entity))}}
    else:
        published = {"type": "object", "required": ["event", "event_id"],
                     "properties": {"event": {"const": ep.publish},
                                    "event_id": {"type": "string", "format": "uuid"}}}
        responses = {"200": {"description": "The event is recorded and will be published",
                             "headers": _headers(),
                             "content": _json_content(published)}}
    operation["responses"] = {**responses, **problem_refs(sorted(errors))}
    return operation


def _link(service: ServiceDefinition, paths: dict[str, dict[str, Any]]) -> None:
    """Links from a created row and from a listed row to the operations on that row."""
    by_id = {op["operationId"]: op for item in paths.values() for op in item.values()}
    for entity in service.entities:
        targets = [oid for oid in (operation_id(entity, op)
                                   for op in ("get", "update", "replace", "delete"))
                   if oid in by_id]
        targets += [endpoint_operation_id(service, n) for n, ep in service.endpoints.items()
                    if ep.entity == entity and "{id}" in ep.path]
        for source, pointer in (("create", "$response.body#/id"),
                                ("list", "$response.body#/items/0/id")):
            op = by_id.get(operation_id(entity, source))
            if op is None or not targets:
                continue
            response = op["responses"]["201" if source == "create" else "200"]
            response["links"] = {
                _camel(target): {"operationId": target, "parameters": {"id": pointer},
                                 "description": f"The {entity} {source}d here"
                                 if source == "create" else f"The first {entity} listed"}
                for target in targets
            }



# --- problems -----------------------------------------------------------------------------

_PROBLEMS = {
    400: ("BadRequest", "The request is malformed: invalid JSON or query parameters."),
    401: ("Unauthorized", "Missing or invalid credentials."),
    404: ("NotFound", "No such row."),
    409: ("Conflict", "The change conflicts with the data: a guard does not hold, a unique"
          " value is taken, or a referenced row is missing or still referred to."),
    413: ("ContentTooLarge", "The request body is too large."),
    415: ("UnsupportedMediaType", "The request body is not JSON."),
    422: ("UnprocessableContent", "The body is not valid; `errors` names each field."),
    429: ("TooManyRequests", "Rate limit exceeded; retry after `Retry-After` seconds."),
    503: ("ServiceUnavailable", "The service is starting, reloading or cannot reach its"
          " database."),
}


def _headers() -> dict[str, Any]:
    return {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}


def problem_refs(statuses: list[int] | set[int]) -> dict[str, Any]:
    """``{"404": {"$ref": "#/components/responses/NotFound"}, ...}`` (503 always)."""
    return {str(s): {"$ref": f"#/components/responses/{_PROBLEMS[s][0]}"}
            for s in sorted({*statuses, 503})}


def components_base() -> dict[str, Any]:
    """The shared parts: the Problem schema, one response per problem status, headers."""
    responses = {}
    for status, (name, description) in _PROBLEMS.items():
        headers = _headers()
        if status in (429, 503):
            headers["Retry-After"] = {"description": "Seconds to wait before retrying.",
                                      "schema": {"type": "integer", "minimum": 0}}
        responses[name] = {"description": description, "headers": headers,
                           "content": {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF + "Problem"}}}}
    problem = {
        "type": "object",
        "description": "An error (RFC 9457 problem details).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": SCHEMA_REF + "FieldError"}},
            "request_id": {"type": "string"},
        },
    }
    field_error = {"type": "object", "required": ["field", "message"],
                   "properties": {"field": {"type": "string", "description": "lines[0].sku"},
                                  "message": {"type": "string"}}}
    return {
        "schemas": {"Problem": problem, "FieldError": field_error},
        "responses": responses,
        "headers": {"RequestId": {"description": "The request's id (kept from the request's"
                                  " X-Request-Id, else made up); logs and traces carry it.",
                                  "schema": {"type": "string"}}},
    }


# --- list queries (the syntax of lcdev.runtime.data.listquery) ---------------------------

LIST_RESERVED = ("sort", "limit", "cursor", "count")
_ORDERED = ("integer", "decimal", "datetime", "date", "string", "text", "uuid")
_UUID = FieldDefinition(type="uuid", required=True)
_STAMP = FieldDefinition(type="datetime", required=True)
_TEXT = {"type": "string", "pattern": NO_NUL}


def filter_operators(field: FieldDefinition) -> tuple[str, ...]:
    """Operators ``?field[op]=`` accepts for a field (list fields are not columns)."""
    t = kind(field)
    if t == "list":
        return ()
    if t == "json":
        return ("is_null",)
    ordered = t in _ORDERED
    return tuple(op for op in OPERATORS if (op not in ("gt", "gte", "lt", "lte") or ordered)
                 and (op not in ("like", "ilike") or t in ("string", "text", "enum")))


def _columns(service: ServiceDefinition, entity: str) -> dict[str, FieldDefinition]:
    definition = service.entities[entity]
    fields = {"id": _UUID, **{n: f for n, f in definition.fields.items() if kind(f) != "list"}}
    if definition.timestamps:
        fields.update(created_at=_STAMP, updated_at=_STAMP)
    return fields


def _filter(name: str, op: str, field: FieldDefinition) -> dict[str, Any]:
    value = field_schema(field, name, is_nullable=False)
    value.pop("default", None)
    key = f"{name}[{op}]"
    param: dict[str, Any] = {"name": key, "in": "query", "required": False, "schema": value}
    if op == "eq" and name not in LIST_RESERVED:
        param.update(name=name, description=f"Only rows whose {name} equals this;"
                     f" {name}[op]= for the other operators.")
    elif op == "in":
        param.update(style="form", explode=False,
                     schema={"type": "array", "items": value, "minItems": 1},
                     description=f"Only rows whose {name} is one of these (comma separated).")
    elif op == "is_null":
        param["schema"] = {"type": "boolean"}
    elif op in ("like", "ilike"):
        param.update(schema=_TEXT, description="A LIKE pattern: % any text, _ one character"
                     + (", case-insensitive." if op == "ilike" else "."))
    return param


def list_parameters(service: ServiceDefinition, entity: str) -> list[dict[str, Any]]:
    """Query parameters of a list: a filter per column and operator, sort, limit, cursor."""
    columns = _columns(service, entity)
    params = [_filter(name, op, field) for name, field in columns.items()
              for op in filter_operators(field)]
    names = "|".join(re.escape(n) for n, f in columns.items() if kind(f) != "json")
    params += [
        {"name": "sort", "in": "query", "required": False,
         "description": "Sort keys, comma separated; '-' sorts descending: -created_at,id.",
         "schema": {"type": "string", "pattern": f"^-?({names})(,-?({names}))*$"}},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT}},
        {"name": "cursor", "in": "query", "required": False,
         "description": "The next_cursor of the previous page (same sort).",
         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}},
        {"name": "count", "in": "query", "required": False,
         "description": "Also return the number of matching rows as `total`.",
         "schema": {"type": "boolean", "default": False}},
    ]
    return params


# --- gateway policy -----------------------------------------------------------------------


def _segments_match(prefix: str, path: str) -> bool:
    """True when ``prefix`` (``{x}`` matches any segment) is a segment-wise prefix of path."""
    want, have = prefix.rstrip("/").split("/"), path.rstrip("/").split("/")
    if len(want) > len(have):
        return False
    pairs = zip(want, have, strict=False)
    return all(w == h or (w.startswith("{") and w.endswith("}")) for w, h in pairs)


class Policy:
    """The gateway's auth and rate limit for each operation, and the security schemes."""

    def __init__(self, service: ServiceDefinition) -> None:
        self.service = service
        self.used: dict[str, dict[str, Any]] = {}

    def _full(self, path: str) -> str:
        route = self.service.route
        below = path == route or path.startswith(route.rstrip("/") + "/")
        return path if below else route.rstrip("/") + path

    def effective(self, method: str, path: str) -> tuple[AuthPolicy, RateLimit | None]:
        """The auth and rate limit applying to ``method path`` (longest route override)."""
        gateway = self.service.gateway
        auth, limit = gateway.auth, gateway.rate_limit
        routes = sorted(gateway.routes, key=lambda r: len(self._full(r.path)))
        for route in routes:
            methods = {m.upper() for m in route.methods or [method]}
            if method.upper() in methods and _segments_match(self._full(route.path), path):
                auth = route.auth if route.auth is not None else auth
                limit = route.rate_limit if route.rate_limit is not None else limit
        return auth, limit

    def scheme(self, auth: AuthPolicy) -> str | None:
        """The security scheme name of ``auth`` (registered), None for no auth."""
        if auth.type == "jwt":
            self.used["bearerAuth"] = {"type": "http", "scheme": "bearer",
                                       "bearerFormat": "JWT"}
            return "bearerAuth"
        if auth.type == "api_key":
            name = "apiKeyAuth" if auth.header == "X-API-Key" else f"apiKey_{auth.header}"
            self.used[name] = {"type": "apiKey", "in": "header", "name": auth.header}
            return name
        return None

    def default_security(self) -> list[dict[str, list[str]]] | None:
        """The document-level security requirement (the service's default auth)."""
        name = self.scheme(self.service.gateway.auth)
        return [{name: []}] if name else None

    def schemes(self) -> dict[str, Any]:
        """The security schemes used by some operation."""
        self.default_security()
        return dict(sorted(self.used.items()))


def operation_policy(operation: dict[str, Any], policy: Policy, method: str,
                     path: str) -> None:
    """Add the operation's security (when it differs from the default) and 401/429."""
    auth, limit = policy.effective(method, path)
    name = policy.scheme(auth)
    if auth != policy.service.gateway.auth:
        operation["security"] = [{name: []}] if name else []
    extra = ([401] if name else []) + ([429] if limit is not None else [])
    if extra:
        responses = operation["responses"]
        statuses = sorted({int(s) for s in responses if s.isdigit()} | set(extra))
        operation["responses"] = {str(s): responses.get(str(s)) or problem_refs([s])[str(s)]
                                  for s in statuses}
