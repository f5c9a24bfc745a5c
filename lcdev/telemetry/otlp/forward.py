"""Re-send accepted OTLP payloads to another collector, without ever slowing the receiver.

The receiver calls ``Forwarder.submit`` (a deque append under a lock) and moves on; one daemon
thread POSTs the payloads in order to ``<endpoint>/v1/<signal>`` as binary protobuf over a
kept-alive connection. A refused connection, a timeout, a 5xx or a 429 is retried with
exponential backoff; any other 4xx means the collector will never take that payload, so it is
given up. The queue is bounded: when it is full the oldest payload is dropped and counted, so
a collector that is down costs a fixed amount of memory and nothing else.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Forwarder", "ForwarderStats"]


@dataclass(frozen=True, slots=True)
class ForwarderStats:
    """Counts since the forwarder was created."""

    sent: int  # payloads the collector accepted
    failed: int  # attempts that failed (each retry counts)
    dropped: int  # payloads given up: queue overflow, refused with a 4xx, or left at close
    pending: int  # payloads queued or in flight
    last_error: str  # "" until something failed


class _Retry(Exception):
    """The attempt failed in a way that may succeed later."""


class _GiveUp(Exception):
    """The collector rejected the payload for good."""


class Forwarder:
    """Forwards payloads to ``endpoint`` (e.g. ``http://127.0.0.1:4318``) from a thread."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        max_queue: int = 1000,
        *,
        timeout: float = 5.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"forward endpoint {endpoint!r} is not an http(s) URL")
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.endpoint = endpoint.rstrip("/")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._path_prefix = parts.path.rstrip("/")
        self._headers = {name: value for name, value in (headers or {}).items()
                         if name.lower() != "content-type"}
        self._headers["Content-Type"] = "application/x-protobuf"
        self._timeout = timeout
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._queue: collections.deque[tuple[str, bytes]] = collections.deque()
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._in_flight = 0
        self._sent = self._failed = self._dropped = 0
        self._last_error = ""
        self._closing = False
        self._deadline = float("inf")  # when a closing forwarder stops trying
        self._connection: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="otlp-forwarder", daemon=True)
        self._thread.start()

    def submit(self, signal: str, body: bytes) -> None:
        """Queue a protobuf payload of ``signal`` (traces|logs|metrics); never blocks."""
        with self._cond:
            if self._closing:
                self._dropped += 1
                return
            if len(self._queue) >= self._max_queue:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append((signal, body))
            self._cond.notify()

    def stats(self) -> ForwarderStats:
        with self._cond:
            return ForwarderStats(
                sent=self._sent, failed=self._failed, dropped=self._dropped,
                pending=len(self._queue) + self._in_flight, last_error=self._last_error,
            )

    def close(self, timeout: float = 1.0) -> None:
        """Try for up to ``timeout`` seconds to send what is queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._interrupt()
            self._thread.join(0.5)

    def _interrupt(self) -> None:
        """Unblock a request stuck on a collector that does not answer (from ``close``)."""
        connection = self._connection
        sock = connection.sock if connection is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue or time.monotonic() >= self._deadline:
                    self._dropped += len(self._queue)
                    self._queue.clear()
                    break
                signal, body = self._queue.popleft()
                self._in_flight = 1
            self._deliver(signal, body)
            with self._cond:
                self._in_flight = 0
        self._disconnect()

    def _deliver(self, signal: str, body: bytes) -> None:
        """Send one payload, retrying with backoff until it is taken, refused or we stop."""
        delay = self._backoff_initial
        while True:
            try:
                self._post(signal, body)
            except _GiveUp as exc:
                self._note_failure(str(exc), dropped=True)
                return
            except (_Retry, OSError, http.client.HTTPException) as exc:
                self._disconnect()
                self._note_failure(f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Retry)
                                   else str(exc))
                if not self._sleep(delay):
                    with self._cond:
                        self._dropped += 1
                    return
                delay = min(delay * 2, self._backoff_max)
                continue
            with self._cond:
                self._sent += 1
            return

    def _post(self, signal: str, body: bytes) -> None:
        connection = self._connect()
        # A closing forwarder must not outlive its deadline waiting on a slow collector.
        with self._cond:
            timeout = max(0.05, min(self._timeout, self._deadline - time.monotonic()))
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", f"{self._path_prefix}/v1/{signal}", body, self._headers)
        response = connection.getresponse()
        response.read()  # drain, so the connection can be reused
        status = response.status
        if 200 <= status < 300:
            return
        message = f"{self.endpoint}/v1/{signal} answered {status} {response.reason}"
        if status == 429 or status >= 500:
            raise _Retry(message)
        raise _GiveUp(message)

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (http.client.HTTPSConnection if self._scheme == "https"
                   else http.client.HTTPConnection)
            self._connection = cls(self._netloc, timeout=self._timeout)
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _note_failure(self, error: str, *, dropped: bool = False) -> None:
        with self._cond:
            self._failed += 1
            self._last_error = error
            if dropped:
                self._dropped += 1

    def _sleep(self, delay: float) -> bool:
        """Wait ``delay`` seconds before a retry; False when closing and past the deadline."""
        with self._cond:
            wake_at = min(time.monotonic() + delay, self._deadline)
            while (remaining := wake_at - time.monotonic()) > 0:
                self._cond.wait(remaining)
                wake_at = min(wake_at, self._deadline)
            return time.monotonic() < self._deadline
