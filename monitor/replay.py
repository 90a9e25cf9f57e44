"""Fixture replay: recorded platform payloads served on 127.0.0.1, so every connector
runs end to end (HTTP, parsing, cursor, matching, storage, scoring) with no internet.

Each connector's recordings live in ``connectors/fixtures/<type>/`` (package data: they
ship in the wheel and are found through the installed package) with a
``replay.json`` manifest: the source's config keys, the fake credentials to put in
the environment, and the routes (method, path, query subset, status, headers, file).
One :class:`ReplayServer` per connector type serves them at the root of its own port,
so absolute links inside pages (PTT's article links, Graph's ``paging.next``) work.
Tests use :meth:`ReplayServer.override` to turn a route into a 401, a 429, a
challenge page or a changed layout.

``repwatch replay`` serves every connector's recordings and writes a config that
points a daemon at them.
"""
from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# the package's own copy (an installed wheel's or the checkout's); packages are installed as files
FIXTURES = Path(str(resources.files("connectors").joinpath("fixtures")))


def manifest(ctype: str) -> dict:
    path = FIXTURES / ctype / "replay.json"
    return json.loads(path.read_text(encoding="utf-8"))


def fixture_types() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if (p / "replay.json").is_file())


def fixture_bytes(ctype: str, name: str) -> bytes:
    return (FIXTURES / ctype / name).read_bytes()


@dataclass
class Served:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    def _serve(self, method: str) -> None:
        owner: ReplayServer = self.server.owner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        served = owner.lookup(method, parts.path, query)
        with owner.lock:
            owner.requests.append((method, self.path, dict(self.headers)))
        if served is None:
            body = b'{"error": "no recorded response for this request"}'
            served = Served(404, body, "application/json", {})
        self.send_response(served.status)
        self.send_header("Content-Type", served.content_type)
        self.send_header("Content-Length", str(len(served.body)))
        for k, v in served.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(served.body)

    def do_GET(self):  # noqa: N802
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def log_message(self, *args):
        pass


class ReplayServer:
    """Serves one connector type's recordings on 127.0.0.1 (a port of its own)."""

    def __init__(self, ctype: str, port: int = 0):
        self.ctype = ctype
        self.manifest = manifest(ctype)
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict]] = []
        self._overrides: dict[int, Served] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)  # quick shutdown

    def __enter__(self) -> "ReplayServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _body(self, route: dict) -> bytes:
        body = fixture_bytes(self.ctype, route["file"])
        for host in self.manifest.get("rewrite", []):
            body = body.replace(host.encode(), self.base.encode())
        return body

    def lookup(self, method: str, path: str, query: dict[str, str]) -> Served | None:
        for i, route in enumerate(self.manifest["routes"]):
            if route["method"] != method or route["path"] != path:
                continue
            if any(query.get(k) != v for k, v in route.get("query", {}).items()):
                continue
            with self.lock:
                if i in self._overrides:
                    return self._overrides[i]
            return Served(route.get("status", 200), self._body(route), route.get("content_type", "application/json"),
                          route.get("headers", {}))
        return None

    def override(self, status: int = 200, body: bytes | str = b"", content_type: str = "application/json",
                 headers: dict | None = None, route: str = "main") -> None:
        """Answer the main route (or the route whose file is ``route``) differently from now on."""
        index = next(i for i, r in enumerate(self.manifest["routes"])
                     if (route == "main" and r.get("main")) or r["file"] == route)
        with self.lock:
            self._overrides[index] = Served(status, body.encode() if isinstance(body, str) else body, content_type,
                                            headers or {})

    def reset(self) -> None:
        with self.lock:
            self._overrides.clear()

    def source_table(self, source_id: str | None = None, every: str = "10m") -> dict[str, Any]:
        """The [[sources]] table that points this connector at the server."""
        table = {"id": source_id or f"replay-{self.ctype}", "type": self.ctype,
                 "url": self.base + self.manifest.get("url_path", ""), "every": every}
        table.update(self.manifest["source"])
        for key, path in self.manifest.get("url_options", {}).items():
            table[key] = self.base + path
        return table

    @property
    def env(self) -> dict[str, str]:
        return dict(self.manifest.get("env", {}))


class ReplayFleet(ExitStack):
    """A ReplayServer for each connector type that has recordings."""

    def __init__(self, types: list[str] | None = None):
        super().__init__()
        self.types = types or fixture_types()
        self.servers: dict[str, ReplayServer] = {}

    def __enter__(self) -> "ReplayFleet":
        super().__enter__()
        for t in self.types:
            self.servers[t] = self.enter_context(ReplayServer(t))
        return self

    @property
    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.servers.values():
            out.update(s.env)
        return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


REPLAY_ENTITIES = """\
[[entities]]
id = "dr-lin"
name = "林志明"
kind = "doctor"
aliases = ["林志明醫師", "Dr. Lin", "Dr Lin", "Lin Chih-Ming"]

[[entities]]
id = "anxin"
name = "安心診所"
kind = "clinic"
aliases = ["Anxin Clinic"]
"""


def fleet_config(fleet: ReplayFleet, storage_url: str, notify: str, ops_notify: str | None = None,
                 every: str = "10m") -> str:
    """A whole config file: the two demo entities, one source per replayed connector, a
    crisis route and an ops route."""
    lines = ["# written by repwatch replay: every connector pointed at recorded payloads on 127.0.0.1", "",
             "[storage]", f"url = {_toml_value(storage_url)}", "", "[daemon]", 'ops_route = "ops"', 'jitter = "0s"', "",
             REPLAY_ENTITIES]
    for t, server in fleet.servers.items():
        lines.append("[[sources]]")
        for k, v in server.source_table(every=every).items():
            lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
    lines += ["[[routes]]", 'id = "crisis"', f"notify = [{_toml_value(notify)}]", "",
              "[[routes]]", 'id = "ops"', f"notify = [{_toml_value(ops_notify or notify)}]", 'language = "en"', "",
              "[[rules]]", 'id = "burst"', 'route = "crisis"', "min_negative = 3", 'window = "1h"', ""]
    return "\n".join(lines)
