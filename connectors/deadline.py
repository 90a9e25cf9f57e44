"""A fetch's deadline, and the watchdog that enforces it in the middle of a read.

A source's ``timeout`` bounds its whole fetch: every request, retry and page, waits for
the host's rate limit excepted (:meth:`connectors.base.Connector.poll`). httpx's
timeouts are per read, so a server trickling a byte a second would never trip them:
:class:`Deadline` is checked between body chunks and before each retry, and a
:class:`Watchdog` cuts the connection when it passes mid-read.
"""
from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
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


class Timers:
    """Calls at given monotonic times, all from one daemon thread (started on first use).

    Every request of every poll arms a watchdog, and almost all of them are disarmed long
    before their time: a thread per request (``threading.Timer``) cost a thread start
    each, about a third of a 304 poll's time. Here arming is a heap push and disarming a
    flag; disarmed entries are dropped when they come up, or all at once when they
    outnumber the live ones."""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, list]] = []  # (at, tie, [call or None])
        self._tie = itertools.count()
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def call_at(self, at: float, call: Callable[[], None]) -> list:
        """Run ``call`` at ``at`` (time.monotonic()); returns the handle :meth:`cancel` takes."""
        entry = [call]
        with self._cond:
            if self._thread is None or not self._thread.is_alive():  # first use, or a forked child
                self._thread = threading.Thread(target=self._run, name="deadline-timers", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (at, next(self._tie), entry))
            if self._heap[0][2] is entry:
                self._cond.notify()
        return entry

    def cancel(self, entry: list) -> None:
        with self._cond:
            if entry[0] is None:
                return
            entry[0] = None
            self._cancelled += 1
            if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
                self._heap = [item for item in self._heap if item[2][0] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def pending(self) -> int:
        """Calls armed and not yet run or cancelled."""
        with self._cond:
            return sum(1 for item in self._heap if item[2][0] is not None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, entry = heapq.heappop(self._heap)
                call, entry[0] = entry[0], None
                if call is None:
                    self._cancelled -= 1
                    continue
            try:
                call()
            except Exception:  # a call's own failure must not stop every later deadline
                pass


TIMERS = Timers()  # one per process: the deadlines of every poll's requests


class Watchdog:
    """Cuts one request's connection when the fetch's deadline passes mid-read.

    httpx only bounds each read, so a server sending a byte a second (headers or body)
    holds a request for as long as it likes. The socket is learnt from httpcore's trace
    events (a new connection) or the response's ``network_stream`` (a reused one); at the
    deadline it is shut down, the blocked read returns and the request fails. The
    deadline is armed on the shared :data:`TIMERS` thread."""

    def __init__(self, seconds: float, timers: Timers = TIMERS):
        self._lock = threading.Lock()
        self._stream: Any = None
        self._done = False
        self.fired = False
        self._timers = timers
        self._timer = timers.call_at(time.monotonic() + max(seconds, 0.0), self._fire)

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
        self._timers.cancel(self._timer)
