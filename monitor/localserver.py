"""Small HTTP servers on 127.0.0.1 for the demo and the integration tests.

* :class:`FeedServer` serves byte payloads by path, with ETag / If-None-Match, and
  lets the caller change them while it runs (a feed that "gains" entries).
* :class:`Receiver` accepts what apprise's ``json://`` plugin POSTs and signals each
  arrival through a condition, so tests wait on events, never on fixed sleeps.
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __init__(self, handler_cls):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        # a short poll interval: shutdown() waits for the loop to notice, and tests stop many servers
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


class _FeedHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        owner: FeedServer = self.server.owner  # type: ignore[attr-defined]
        with owner.lock:
            owner.requests.append(self.path)
            item = owner.routes.get(self.path)
        if item is None:
            self.send_response(404)
            self.end_headers()
            return
        status, body, ctype = item
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if status == 200 and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status == 200:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class FeedServer(_Server):
    def __init__(self):
        super().__init__(_FeedHandler)
        self.lock = threading.Lock()
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[str] = []

    def set(self, path: str, body: bytes | str, ctype: str = "application/atom+xml; charset=utf-8", status: int = 200):
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self.lock:
            self.routes[path] = (status, body, ctype)


@dataclass
class Received:
    path: str
    payload: dict
    headers: dict = field(default_factory=dict)


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        owner: Receiver = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with owner.cond:
            status = owner.fail_with or owner.fail_paths.get(self.path)
            if status:
                owner.refused.append(self.path)
        if status:
            self.send_response(status)
            self.end_headers()
            return
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = {"raw": raw.decode("utf-8", "replace")}
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")
        with owner.cond:
            owner.received.append(Received(self.path, payload, dict(self.headers)))
            owner.cond.notify_all()

    def log_message(self, *args):
        pass


class Receiver(_Server):
    """Collects notifications; ``fail_with`` (every path) or ``fail_paths`` (per path) makes it
    answer an error status instead, and ``refused`` lists the paths it refused."""

    def __init__(self):
        super().__init__(_ReceiverHandler)
        self.cond = threading.Condition()
        self.received: list[Received] = []
        self.fail_with: int | None = None
        self.fail_paths: dict[str, int] = {}
        self.refused: list[str] = []

    @property
    def apprise_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/page"

    def url(self, path: str = "/page") -> str:  # type: ignore[override]
        return f"json://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[dict]:
        with self.cond:
            return [r.payload for r in self.received if r.path == path]

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.received) >= count, timeout)
