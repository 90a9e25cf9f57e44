"""The daemon's web server: the ASGI app of :func:`monitor.web.app.create_app` under uvicorn,
in a thread of its own, on ``[daemon] listen``.

The server cannot be starved by its clients. Connections are asyncio sockets, so an idle
or slow client costs a socket, never a thread; handlers run on ``workers`` threads. A
request must arrive whole within ``read_timeout`` (10 s; else 408, however the bytes
trickle in), its headers within ``max_header`` (64 KiB; else 431) and
its body within ``max_body`` (8 KiB; else 413, refused before it is read; chunked bodies
get 411). At most ``max_open`` connections may be sending a request (the oldest is dropped
with 503 for a new one) and ``workers + max_queued`` requests may be in the handlers (more
get 503 at once). Every refusal closes the connection. Idle keep-alive connections close
after 2 s (a client that reads until the server closes, as the old server did after every
answer, waits 2 s, well inside a 5 s socket timeout). :meth:`WebServer.stop` returns within about 2 s.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable

import anyio.to_thread
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from monitor.web.app import create_app
from monitor.web.ops import health_report

log = logging.getLogger("repwatch.http")


@dataclass(frozen=True)
class Limits:
    read_timeout: float = 10.0
    max_body: int = 8192
    max_header: int = 65536
    max_open: int = 256
    workers: int = 4
    max_queued: int = 32


def _header_end(data: bytearray) -> int:
    """Where the body starts (after the blank line ending the headers); -1 if not yet."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
    return min(ends) if ends else -1


def _declared_body(head: bytes, max_body: int) -> tuple[int, str] | None:
    """411 for a chunked body, 413 for a declared length over ``max_body`` (however many
    digits); None for the rest (h11 answers a malformed length with 400)."""
    for line in head.split(b"\n")[1:]:
        name, sep, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if sep and name == b"transfer-encoding" and b"chunked" in value.lower():
            return 411, "send a Content-Length; chunked bodies are not accepted"
        if sep and name == b"content-length" and value.isdigit() and (len(value) > 12 or int(value) > max_body):
            return 413, f"request body over {max_body} bytes"
    return None


def plain_response(status: int, reason: str) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection."""
    body = (reason + "\n").encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n")
    return head.encode() + body


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request and a cap on the connections
    still sending one (``limits`` is set on the subclass each server makes)."""

    limits: Limits

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._opened = time.monotonic()
        self._deadline = None
        self._head: bytearray | None = bytearray()
        self._arm()
        sending = [c for c in self.connections if isinstance(c, _Protocol) and c._deadline is not None]
        if len(sending) > self.limits.max_open:
            oldest = min((c for c in sending if c is not self), key=lambda c: c._opened)
            oldest.refuse(503, "too many connections")

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.limits.read_timeout, self._too_late)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_late(self) -> None:
        self._deadline = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
        else:
            self.refuse(408, "request not received in time")

    def refuse(self, status: int, reason: str) -> None:
        log.log(logging.DEBUG if status == 408 else logging.INFO, "HTTP %d for %s: %s", status,
                (self.client or ("?",))[0], reason)
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(plain_response(status, reason))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._head is not None:  # a request's headers are still arriving: look at them before h11 does
            self._head += data
            end = _header_end(self._head)
            if end > self.limits.max_header or end < 0 and len(self._head) > self.limits.max_header:
                self._head = None
                return self.refuse(431, "request headers too large")
            if end >= 0:
                refusal = _declared_body(bytes(self._head[:end]), self.limits.max_body)
                self._head = None
                if refusal is not None:
                    return self.refuse(*refusal)
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()  # the request is in whole (or the connection is done with)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may start a pipelined request already received
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self._head = bytearray()  # the next request's headers get checked
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self._arm()  # the next request (or the rest of a pipelined one) gets its own deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


class _Admission:
    """ASGI middleware: refuses more than ``workers + max_queued`` requests in the handlers
    (and a body over ``max_body`` that arrived pipelined behind another request, past the
    protocol's check), and sizes the handlers' thread pool to ``workers``."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits
        self.inside = 0
        self._sized = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._sized:  # the event loop's default limiter: what sync handlers run on
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.limits.workers
            self._sized = True
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if len(declared) > 12 or int(declared or 0) > self.limits.max_body:  # a pipelined request the protocol
            return await _refuse(send, 413, f"request body over {self.limits.max_body} bytes")  # did not see whole
        if self.inside >= self.limits.workers + self.limits.max_queued:
            return await _refuse(send, 503, "busy: try again")
        self.inside += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inside -= 1


async def _refuse(send, status: int, reason: str) -> None:
    body = (reason + "\n").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


class WebServer:
    """Serves :func:`~monitor.web.app.create_app` on ``host:port`` (``127.0.0.1:0``: any free
    port, see :attr:`port`). The socket is bound here, so a bad address raises OSError before
    anything starts; :meth:`start` runs uvicorn in a thread, :meth:`stop` ends it."""

    def __init__(self, app, listen: str, alive: Callable[[], bool] | None = None, *, workers: int = 4,
                 read_timeout: float = 10.0, max_body: int = 8192, max_header: int = 65536, max_open: int = 256,
                 max_queued: int = 32):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        self.app = app
        self.alive = alive or (lambda: True)
        self.limits = Limits(read_timeout, max_body, max_header, max_open, workers, max_queued)
        self.sock = socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                         backlog=128)
        self.port = self.sock.getsockname()[1]
        self.host = host
        self.asgi = create_app(app, healthz=lambda: self.healthz())
        protocol = type("Protocol", (_Protocol,), {"limits": self.limits})
        behind_proxy = app.config.web.behind_tls_proxy
        config = uvicorn.Config(_Admission(self.asgi, self.limits), http=protocol, lifespan="off", log_config=None,
                                access_log=False, timeout_keep_alive=2, timeout_graceful_shutdown=2,
                                h11_max_incomplete_event_size=max_header, server_header=False,
                                proxy_headers=behind_proxy, forwarded_allow_ips="127.0.0.1,::1" if behind_proxy else "")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="http", daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except Exception:  # the endpoint is gone but paging goes on; /healthz will say so by not answering
            log.exception("HTTP endpoint failed")

    def start(self) -> "WebServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        log.info("web app on %s:%d (dashboard, /healthz, /metrics, /ack)", self.host, self.port)
        users = self.asgi.state.users
        if not users.all():
            log.info("no dashboard users in %s yet: repwatch user add NAME --role admin", users.path)
        if not _loopback(self.host) and not self.app.config.web.behind_tls_proxy:
            log.warning("the web app listens on %s, not a loopback address, and [web] behind_tls_proxy is not set: "
                        "passwords and session cookies cross the network unencrypted unless a TLS proxy is in front",
                        self.host)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        self.sock.close()

    def healthz(self) -> tuple[int, dict]:
        return health_report(self.app, self.alive())


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
