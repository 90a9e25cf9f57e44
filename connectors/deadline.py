"""A fetch's deadline, and the watchdog that enforces it in the middle of a read.

A source's ``timeout`` bounds its whole fetch: every request, retry and page, waits for
the host's rate limit excepted (:meth:`connectors.base.Connector.poll`). httpx's
timeouts are per read, so a server trickling a byte a second would never trip them:
:class:`Deadline` is checked between body chunks and before each retry, and a
:class:`Watchdog` cuts the connection when it passes mid-read.
"""
from __future__ import annotations

import socket
import threading
from typing import Any, Callable

from monitor.mention import FetchResult


class DeadlineExceeded(Exception):
    pass


class Deadline:
    """When a fetch must be over (monotonic seconds); moved later by rate-limit waits,
    which are this process's politeness, not the server's slowness."""

    def __init__(self, seconds: float, monotonic: Callable[[], float]):
        self.seconds = seconds
        self.monotonic = monotonic
        self.at = monotonic() + seconds

    def left(self) -> float:
        return self.at - self.monotonic()

    def passed(self, attempts: int, last_error: str, status: int | None) -> FetchResult:
        """The result of a fetch stopped by its deadline after ``attempts`` tries of one request."""
        why = f"; last: {last_error}" if last_error and last_error != "no attempt made" else ""
        return FetchResult("failed", http_status=status,
                           error=f"timed out: the fetch took longer than its {self.seconds:g}s timeout, which "
                                 f"covers every request, retry and page ({attempts} attempt(s){why})")


class Watchdog:
    """Cuts one request's connection when the fetch's deadline passes mid-read.

    httpx only bounds each read, so a server sending a byte a second (headers or body)
    holds a request for as long as it likes. The socket is learnt from httpcore's trace
    events (a new connection) or the response's ``network_stream`` (a reused one); at the
    deadline it is shut down, the blocked read returns and the request fails."""

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._stream: Any = None
        self._done = False
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None:
            return
        with self._lock:
            self._stream = stream
            fired = self.fired
        if fired:
            self._cut(stream)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            stream = self._stream
        if stream is not None:
            self._cut(stream)

    @staticmethod
    def _cut(stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):  # already closed, or not a socket stream
            pass

    def stop(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
