"""The daemon's HTTP endpoint: ``/healthz``, ``/metrics`` and ``/ack/<token>``.

* ``/healthz``: 200 with a JSON summary when the database answers and the scheduler
  runs, 503 otherwise. Unhealthy *sources* are reported in the body (and in /metrics)
  but do not fail the check: restarting the container does not fix a blocked feed.
* ``/metrics``: Prometheus text format, read from the database at scrape time
  (:mod:`monitor.metrics`).
* ``/ack/<token>``: the signed, expiring link in every page. GET shows what will be
  acknowledged and asks for a name; only POST acknowledges, because chat apps and mail
  scanners fetch links by themselves and must not acknowledge anything. The page
  shows incident ids, state and deadline, never mention text.

The server cannot be starved by its clients. One thread reads requests from every
connection (non-blocking, :mod:`selectors`) and hands only complete ones to a fixed pool
of worker threads, so an idle or slow client costs a socket, never a thread. A request
must arrive whole within ``read_timeout`` (10 s; else 408), its headers within 64 KiB
(else 431) and its body within ``max_body`` (8 KiB; else 413, refused before it is read);
a malformed Content-Length gets 400. At most ``max_open`` connections may be sending
(the oldest is dropped for a new one) and ``max_queued`` complete requests may wait for a
worker (more get 503).
"""
from __future__ import annotations

import html
import io
import json
import logging
import queue
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Callable
from urllib.parse import parse_qs

from monitor.alerting.incidents import IncidentError, verify_ack
from monitor.metrics import collect_metrics
from monitor.render import local_time

log = logging.getLogger("repwatch.http")

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>repwatch: {title}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 2em auto">{body}</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    """Answers one request that the reader thread has already received whole (``raw``);
    ``server`` is the :class:`Endpoint`."""

    server_version = "repwatch"
    default_request_version = "HTTP/1.0"  # errors about a malformed request line get a status line too

    def __init__(self, sock, client_address, endpoint: "Endpoint", raw: bytes):
        self._raw = raw
        super().__init__(sock, client_address, endpoint)

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = io.BytesIO(self._raw)
        self.wfile = self.connection.makefile("wb")

    def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(data)

    def _page(self, status: int, title: str, body: str) -> None:
        self._send(status, _PAGE.format(title=html.escape(title), body=body))

    def do_GET(self):  # noqa: N802
        endpoint: Endpoint = self.server  # type: ignore[assignment]
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                status, body = endpoint.healthz()
                return self._send(status, json.dumps(body), "application/json")
            if path == "/metrics":
                return self._send(200, collect_metrics(endpoint.app), "text/plain; version=0.0.4; charset=utf-8")
            if path.startswith("/ack/"):
                return self._ack_form(endpoint, path[len("/ack/"):])
        except Exception:
            log.exception("HTTP %s failed", path)
            return self._send(500, "internal error", "text/plain")
        self._send(404, "not found", "text/plain")

    def do_POST(self):  # noqa: N802
        endpoint: Endpoint = self.server  # type: ignore[assignment]
        path = self.path.split("?", 1)[0]
        if not path.startswith("/ack/"):
            return self._send(404, "not found", "text/plain")
        # the reader checked Content-Length and received exactly that many bytes
        form = parse_qs(self.rfile.read().decode("utf-8", "replace"))
        by = (form.get("by") or [""])[0]
        try:
            incident_id = endpoint.verify(path[len("/ack/"):])
            inc = endpoint.app.dispatcher.ack(incident_id, by, via="link")
        except IncidentError as exc:
            return self._page(400 if "name" in str(exc) else 403, "cannot acknowledge",
                              f"<h2>Cannot acknowledge</h2><p>{html.escape(str(exc))}</p>")
        except Exception:
            log.exception("HTTP POST /ack failed")
            return self._send(500, "internal error", "text/plain")
        who = html.escape(inc.acked_by or "")
        self._page(200, f"incident #{inc.id} acknowledged",
                   f"<h2>Incident #{inc.id} acknowledged</h2><p>Owner: {who}. Escalation has stopped.</p>")

    def _ack_form(self, endpoint: "Endpoint", token: str) -> None:
        try:
            incident_id = endpoint.verify(token)
        except IncidentError as exc:
            return self._page(403, "invalid link", f"<h2>Invalid link</h2><p>{html.escape(str(exc))}</p>")
        inc = endpoint.app.store.incident(incident_id)
        if inc is None:
            return self._page(404, "no such incident", "<h2>No such incident</h2>")
        tz = endpoint.app.config.routes[0].timezone if endpoint.app.config.routes else "UTC"
        state = html.escape(inc.status)
        if inc.status != "open":
            who = html.escape(inc.acked_by or inc.resolved_by or "")
            return self._page(200, f"incident #{inc.id}", f"<h2>Incident #{inc.id}</h2><p>Already {state} by {who}.</p>")
        self._page(200, f"acknowledge incident #{inc.id}", (
            f"<h2>Acknowledge incident #{inc.id}</h2>"
            f"<p>Entity: {html.escape(inc.entity_id)}. Severity: {html.escape(inc.severity)}. "
            f"Deadline: {html.escape(local_time(inc.deadline, tz))}.</p>"
            f'<form method="post"><label>Your name <input name="by" required maxlength="64" autofocus></label> '
            f'<button type="submit">Acknowledge</button></form>'))

    def log_message(self, fmt, *args):  # tokens are in the path: log the route only
        path = getattr(self, "path", "")  # not set when the request line itself is malformed
        log.debug("http %s %s", self.command, path.split("/")[1] if "/" in path else path[:40])


def _header_end(data: bytearray) -> int:
    """Where the body starts (after the blank line ending the headers); -1 if not yet."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := data.find(sep)) >= 0]
    return min(ends) if ends else -1


def _body_length(head: bytes, max_body: int) -> tuple[int, int | None, str]:
    """The declared body length, or the status to refuse the request with and why."""
    lengths, chunked = set(), False
    for line in head.split(b"\n")[1:]:
        name, sep, value = line.partition(b":")
        name = name.strip().lower()
        if sep and name == b"content-length":
            lengths.add(value.strip())
        elif sep and name == b"transfer-encoding":
            chunked = True
    if chunked:
        return 0, 411, "send a Content-Length; chunked bodies are not accepted"
    if not lengths:
        return 0, None, ""
    value = lengths.pop()
    if lengths or not value.isdigit():
        return 0, 400, "malformed Content-Length"
    if len(value) > 12 or int(value) > max_body:
        return 0, 413, f"request body over {max_body} bytes"
    return int(value), None, ""


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)  # what was written still goes out, then FIN
    except OSError:
        pass
    sock.close()


@dataclass(eq=False)
class _Incoming:
    """A connection whose request is still arriving."""

    sock: socket.socket
    address: tuple
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    size: int | None = None  # the whole request's bytes, once its headers are in


class Endpoint:
    """Serves the app on ``host:port``: one reader thread and ``workers`` worker threads,
    whatever the number of connections (see the module docstring for the limits)."""

    def __init__(self, app, listen: str, alive: Callable[[], bool] | None = None, *, workers: int = 4,
                 read_timeout: float = 10.0, write_timeout: float = 10.0, max_body: int = 8192,
                 max_header: int = 65536, max_open: int = 256, max_queued: int = 32):
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        self.app = app
        self.alive = alive or (lambda: True)
        self.read_timeout, self.write_timeout = read_timeout, write_timeout
        self.max_body, self.max_header, self.max_open = max_body, max_header, max_open
        self.sock = socket.create_server((host, int(port)), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                         backlog=128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.max_queued = max_queued
        self._queue: queue.Queue = queue.Queue()  # complete requests; None tells a worker to stop
        self._incoming: dict[socket.socket, _Incoming] = {}
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the reader at once
        self.thread = threading.Thread(target=self._read_loop, name="http", daemon=True)
        self._workers = [threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
                         for i in range(workers)]

    def start(self) -> "Endpoint":
        for t in self._workers:
            t.start()
        self.thread.start()
        log.info("HTTP endpoint on %s:%d (/healthz, /metrics, /ack)", self.sock.getsockname()[0], self.port)
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:  # stopped already
            return
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        else:
            self.sock.close()
        self._wake_r.close()
        self._wake_w.close()
        while True:  # requests nobody will answer now
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                _close(item[0])
        for _ in self._workers:
            self._queue.put(None)
        for t in self._workers:
            if t.is_alive():
                t.join(timeout=1)

    # ------------------------------------------------------------------ reading

    def _read_loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(timeout=0.5):
                    if key.fileobj is self.sock:
                        self._accept(sel)
                    elif key.fileobj is not self._wake_r:
                        self._receive(sel, key.data)
                now = time.monotonic()
                for conn in [c for c in self._incoming.values() if c.deadline <= now]:
                    self._refuse(sel, conn, 408, "request not received in time")
        except Exception:  # the endpoint is gone but paging goes on; /healthz will say so by not answering
            log.exception("HTTP endpoint failed")
        finally:
            for conn in list(self._incoming.values()):
                self._drop(sel, conn)
            sel.close()
            self.sock.close()

    def _accept(self, sel: selectors.BaseSelector) -> None:
        for _ in range(64):  # then let the others read
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, most likely: say so, keep serving
                log.warning("HTTP accept failed: %s", exc)
                return
            sock.setblocking(False)
            if len(self._incoming) >= self.max_open:  # the longest-waiting one makes room
                oldest = min(self._incoming.values(), key=lambda c: c.deadline)
                self._refuse(sel, oldest, 503, "too many connections")
            conn = _Incoming(sock, address, time.monotonic() + self.read_timeout)
            self._incoming[sock] = conn
            sel.register(sock, selectors.EVENT_READ, conn)

    def _receive(self, sel: selectors.BaseSelector, conn: _Incoming) -> None:
        try:
            chunk = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client gave up
            return self._drop(sel, conn)
        conn.data += chunk
        if conn.size is None:
            end = _header_end(conn.data)
            if end < 0 and len(conn.data) > self.max_header or end > self.max_header:
                return self._refuse(sel, conn, 431, "request headers too large")
            if end < 0:
                return
            length, status, reason = _body_length(bytes(conn.data[:end]), self.max_body)
            if status is not None:
                return self._refuse(sel, conn, status, reason)
            conn.size = end + length
        if len(conn.data) < conn.size:
            return
        self._forget(sel, conn)
        if self._queue.qsize() >= self.max_queued:  # only this thread adds, so the count cannot grow meanwhile
            self._reply(conn.sock, 503, "busy: try again")
        else:
            self._queue.put_nowait((conn.sock, conn.address, bytes(conn.data[:conn.size])))

    def _forget(self, sel: selectors.BaseSelector, conn: _Incoming) -> None:
        sel.unregister(conn.sock)
        del self._incoming[conn.sock]

    def _drop(self, sel: selectors.BaseSelector, conn: _Incoming) -> None:
        self._forget(sel, conn)
        _close(conn.sock)

    def _refuse(self, sel: selectors.BaseSelector, conn: _Incoming, status: int, reason: str) -> None:
        log.log(logging.DEBUG if status == 408 else logging.INFO, "HTTP %d for %s: %s", status, conn.address[0], reason)
        self._forget(sel, conn)
        self._reply(conn.sock, status, reason)

    @staticmethod
    def _reply(sock: socket.socket, status: int, reason: str) -> None:
        """A short answer written without waiting (it fits the socket buffer), then close."""
        body = (reason + "\n").encode()
        head = (f"HTTP/1.0 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n")
        try:
            sock.send(head.encode() + body)
            sock.recv(65536)  # unread input would make close() reset the answer away
        except OSError:
            pass
        _close(sock)

    # ------------------------------------------------------------------ answering

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            sock, address, raw = item
            try:
                sock.setblocking(True)
                sock.settimeout(self.write_timeout)  # a client that does not read its answer
                _Handler(sock, address, self, raw)
            except OSError as exc:
                log.debug("HTTP client went away: %s", exc)
            except Exception:
                log.exception("HTTP request failed")
            finally:
                _close(sock)

    def verify(self, token: str) -> int:
        secret = self.app.config.incidents.ack_secret
        if not secret:
            raise IncidentError("acknowledgement links are not configured ([incidents] public_url)")
        return verify_ack(secret, token, self.app.clock.now())

    def healthz(self) -> tuple[int, dict]:
        body: dict = {"status": "ok"}
        try:
            self.app.store.ping()
            body["database"] = "ok"
        except Exception as exc:
            body["database"] = f"error: {type(exc).__name__}"
            body["status"] = "error"
        body["scheduler"] = "running" if self.alive() else "stopped"
        if body["scheduler"] != "running":
            body["status"] = "error"
        health = self.app.health()
        body["sources"] = dict(Counter(h.state for h in health.values()))
        body["unhealthy_sources"] = sorted(k for k, h in health.items() if h.state not in ("ok", "new", "disabled"))
        body["open_incidents"] = len(self.app.store.incidents(open_only=True))
        return (200 if body["status"] == "ok" else 503), body
