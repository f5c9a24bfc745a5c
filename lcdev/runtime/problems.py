"""``application/problem+json`` (RFC 9457) errors, shared by every part of the runtime.

Raise ``ProblemError`` anywhere below an HTTP handler; the service app turns it into a
response. ``errors`` names the offending fields: ``[{"field": "lines[0].quantity",
"message": "must be at least 1"}]``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

__all__ = ["PROBLEM_JSON", "ProblemError", "problem_response"]

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Content", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ProblemError(Exception):
    """An error with an HTTP status, a human detail and, optionally, the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank", "title": self.title, "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def response(self) -> Response:
        return problem_response(self)


def problem_response(problem: ProblemError) -> Response:
    return Response(
        json.dumps(problem.body(), default=str),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )
