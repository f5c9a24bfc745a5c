"""Client of a running supervisor's control API, used by ``lcdev`` commands (and the TUI).

It speaks HTTP/1.1 over the supervisor's unix socket with the standard library's
``http.client``: every CLI command uses it, and it costs nothing to import.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from lcdev.backends.unix_http import UnixHTTPConnection
from lcdev.core.events import Event, event_from_dict
from lcdev.core.layout import WorkspaceLayout
from lcdev.supervisor.records import read_supervisor_record

__all__ = ["RELOAD_TIMEOUT_S", "SupervisorClient", "SupervisorUnavailable", "connect"]

RELOAD_TIMEOUT_S = 130.0
"""Longer than a service's own reload may take (120 s, a migration of a big table)."""


class SupervisorUnavailable(RuntimeError):
    """No supervisor answers for this workspace, or it refused the request."""


class SupervisorClient:
    """Talks HTTP over the supervisor's unix socket; one connection per request."""

    def __init__(self, socket_path: str, timeout: float = 10.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def close(self) -> None:
        """Nothing is pooled; kept so callers can treat the client as a resource."""

    def _open(self, method: str, path: str, params: dict[str, str] | None,
              timeout: float | None, body: Any = None
              ) -> tuple[UnixHTTPConnection, http.client.HTTPResponse]:
        url = path + (f"?{urlencode(params)}" if params else "")
        conn = UnixHTTPConnection(self.socket_path, timeout)
        try:
            if body is None:
                conn.request(method, url)
            else:
                conn.request(method, url, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
            response = conn.getresponse()
        except OSError as exc:
            conn.close()
            raise SupervisorUnavailable(f"the supervisor does not answer: {exc}") from exc
        if response.status >= 400:
            body = response.read()
            conn.close()
            try:
                detail = json.loads(body).get("detail", body.decode())
            except ValueError:
                detail = body.decode(errors="replace")
            raise SupervisorUnavailable(str(detail))
        return conn, response

    def _call(self, method: str, path: str, params: dict[str, str] | None = None, *,
              body: Any = None, timeout: float | None = None) -> Any:
        conn, response = self._open(method, path, params, timeout or self.timeout, body)
        try:
            return json.loads(response.read())
        finally:
            conn.close()

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/v1/status")
        return result

    def _stream(self, path: str, params: dict[str, str]) -> Iterator[Event]:
        conn, response = self._open("GET", path, params, None)
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException):
                    return  # the supervisor went away: the stream is over
                if not line:
                    return
                if line.strip():
                    yield event_from_dict(json.loads(line))
        finally:
            conn.close()

    def events(self, *, logs: bool = False, follow: bool = True) -> Iterator[Event]:
        return self._stream("/v1/events", {"logs": str(int(logs)), "follow": str(int(follow))})

    def logs(self, source: str | None = None, tail: int = 200, follow: bool = False
             ) -> Iterator[Event]:
        params = {"tail": str(tail), "follow": str(int(follow))}
        if source:
            params["source"] = source
        return self._stream("/v1/logs", params)

    def shutdown(self, remove_data: bool = False) -> None:
        self._call("POST", "/v1/shutdown", {"remove_data": str(int(remove_data))})

    def restart(self, name: str) -> None:
        self._call("POST", f"/v1/components/{name}/restart")

    def reload(self, services: list[str], allow_destructive: bool = False,
               timeout: float = RELOAD_TIMEOUT_S) -> list[Event]:
        """``lcdev apply``: reload ``services`` now (none: whatever needs it) and return the
        events the reload produced. Waits for the whole reload, migrations included."""
        answer = self._call("POST", "/v1/reload", timeout=timeout,
                            body={"services": services, "allow_destructive": allow_destructive})
        return [event_from_dict(item) for item in answer]


def connect(layout: WorkspaceLayout) -> SupervisorClient | None:
    """A client when a supervisor answers for this workspace, else None."""
    record = read_supervisor_record(layout)
    if record is None:
        return None
    client = SupervisorClient(record.socket)
    try:
        client.status()
    except SupervisorUnavailable:
        return None
    return client
