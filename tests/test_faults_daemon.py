"""Faults of the daemon process and its HTTP endpoint (issue 14, defects 8 and 10).

* SIGHUP reloads the config: a valid file adds a source (the local feed server sees it
  polled), a file with a problem keeps the running config and logs ``file:line``, a
  changed storage URL is logged as needing a restart; SIGTERM still exits 0.
* The endpoint cannot be starved: malformed Content-Length -> 400, a huge declared body
  -> 413 before it is read, a request that does not arrive in time -> 408, idle
  connections cost no threads and /healthz keeps answering, a full worker queue -> 503.

Every wait is bounded; everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import ExitStack, closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.app import App
from monitor.config import load_config
from monitor.demo import alerts_feed
from monitor.web import WebServer
from monitor.store import Store
from tests.conftest import write_config
from tests.test_pipeline import KIND, config_text


def wait_until(predicate, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` and read until the server closes; a server that never answers fails
    the test through the socket timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/"), f"no HTTP answer: {response[:80]!r}"
    return int(response.split(b" ", 2)[1])


def healthz(port: int, timeout: float = 3.0) -> tuple[int, dict, float]:
    started = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as r:
        return r.status, json.loads(r.read()), time.monotonic() - started


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


# --------------------------------------------------------------------------- the endpoint, in-process


@pytest.fixture
def endpoint_app(tmp_path, feed_server, receiver):
    cfg = write_config(tmp_path, config_text(tmp_path / "h.db", feed_server.url("/feed"), "${RECEIVER_URL}")
                       + '\n[daemon]\nlisten = ""\n')
    app = App(load_config(cfg, env={"RECEIVER_URL": receiver.apprise_url}), scorer=None)  # the endpoint never scores
    yield app
    app.close()


@pytest.fixture
def serve(endpoint_app):
    servers = []

    def start(**limits) -> WebServer:
        server = WebServer(endpoint_app, "127.0.0.1:0", **limits).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_malformed_content_length_gets_400(serve):
    server = serve()
    for value in (b"abc", b"-5", b"12, 13", b"1e3"):
        reply = exchange(server.port, b"POST /ack/x HTTP/1.1\r\nHost: t\r\nContent-Length: " + value + b"\r\n\r\nby=a")
        assert status_of(reply) == 400, (value, reply)
    reply = exchange(server.port, b"POST /ack/x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 5\r\n"
                                  b"\r\nby=a")  # two different lengths
    assert status_of(reply) == 400
    assert status_of(exchange(server.port, b"garbage in the request line\r\n\r\n")) == 400
    assert healthz(server.port)[0] == 200  # and the server is still there


def test_huge_declared_body_gets_413_without_being_read(serve):
    server = serve()
    started = time.monotonic()
    # the body is never sent: a server that tried to read it would wait for ever
    reply = exchange(server.port, b"POST /ack/x HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\nby=a")
    assert status_of(reply) == 413 and time.monotonic() - started < 2
    digits = b"9" * 5000  # longer than int() accepts by default
    assert status_of(exchange(server.port, b"POST /ack/x HTTP/1.1\r\nContent-Length: " + digits + b"\r\n\r\n")) == 413
    over = b"POST /ack/x HTTP/1.1\r\nContent-Length: 8193\r\n\r\n" + b"b" * 8193
    assert status_of(exchange(server.port, over)) == 413


def test_ack_post_within_the_limit_is_still_answered(serve):
    server = serve()
    body = b"by=" + b"%E7%8E%8B" * 60  # a long name in percent-encoded UTF-8
    reply = exchange(server.port, b"POST /ack/not-a-token HTTP/1.1\r\nHost: t\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert status_of(reply) == 403 and b"Cannot acknowledge" in reply  # verified, refused: no ack secret


def test_request_that_does_not_arrive_in_time_gets_408(serve):
    server = serve(read_timeout=1.0)
    started = time.monotonic()
    reply = exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # the blank line never comes
    assert status_of(reply) == 408 and time.monotonic() - started < 3
    # a client that trickles one byte at a time is cut at the same deadline, not kept alive by each byte
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
        started = time.monotonic()
        while time.monotonic() - started < 5 and not select.select([s], [], [], 0.2)[0]:
            try:
                s.sendall(b"a")
            except OSError:  # closed between the select and the send: read the answer
                break
        reply = s.recv(65536)
    assert status_of(reply) == 408 and time.monotonic() - started < 3


def test_idle_connections_cost_no_threads_and_healthz_answers(serve):
    server = serve()  # the daemon's defaults: 10 s to send a request
    before = threading.active_count()
    with ExitStack() as stack:
        idle = [stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
                for _ in range(100)]
        for s in idle[:50]:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n")  # half a request
        status, body, took = healthz(server.port)  # accepted after the 100 above
        assert status == 200 and body["database"] == "ok" and took < 3
        assert threading.active_count() <= before + 1, threading.active_count() - before
    assert threading.active_count() <= before + 1


def test_more_connections_than_allowed_make_room_for_new_ones(serve):
    server = serve(max_open=20)
    with ExitStack() as stack:
        idle = [stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
                for _ in range(50)]
        status, _, took = healthz(server.port)
        assert status == 200 and took < 3
        # the oldest idle connections were told why they were dropped
        assert status_of(idle[0].recv(65536)) == 503


def test_full_worker_queue_gets_503(serve):
    server = serve(workers=1, max_queued=1)
    entered, release = threading.Event(), threading.Event()
    real = server.healthz

    def slow_healthz():
        entered.set()
        release.wait(10)
        return real()

    server.healthz = slow_healthz
    request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    with ExitStack() as stack:
        first = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        first.sendall(request)
        assert entered.wait(5)  # the only worker is busy
        second = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        second.sendall(request)  # waits in the queue
        started = time.monotonic()
        reply = exchange(server.port, request)
        assert status_of(reply) == 503 and time.monotonic() - started < 2
        release.set()
        assert status_of(first.recv(65536)) == 200
        assert status_of(second.recv(65536)) == 200


# --------------------------------------------------------------------------- the daemon process


SOURCE_B = """
[[sources]]
id = "feed-b"
type = "google_alerts"
url = "{url}"
every = "2s"
"""


@pytest.mark.model
def test_sighup_reloads_a_valid_config_and_keeps_the_running_one_when_invalid(tmp_path, feed_server, receiver):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/a", alerts_feed(KIND, now - timedelta(minutes=2)))
    feed_server.set("/b", alerts_feed(KIND, now - timedelta(minutes=2)))
    port = free_port()
    db = tmp_path / "r.db"
    base = config_text(db, feed_server.url("/a"), "${RECEIVER_URL}").replace('every = "5m"', 'every = "2s"')
    daemon = f'\n[daemon]\njitter = "0s"\nlisten = "127.0.0.1:{port}"\n'
    cfg = write_config(tmp_path, base + daemon)
    log_path = tmp_path / "daemon.log"

    def polls(path):
        with feed_server.lock:
            return feed_server.requests.count(path)

    def log_text():
        return log_path.read_text(encoding="utf-8", errors="replace")

    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(cfg)],
                                stdout=subprocess.DEVNULL, stderr=log_file,
                                env={**os.environ, "PYTHONUNBUFFERED": "1", "RECEIVER_URL": receiver.apprise_url})
    try:
        assert wait_until(lambda: polls("/a") >= 1, 90), log_text()
        assert polls("/b") == 0

        # a valid file: a new source, and a storage URL that cannot change without a restart
        moved = base.replace(f"sqlite:///{db}", f"sqlite:///{tmp_path / 'other.db'}")
        cfg.write_text(moved + SOURCE_B.format(url=feed_server.url("/b")) + daemon, encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: polls("/b") >= 1, 30), log_text()
        assert proc.poll() is None
        assert "reloaded" in log_text() and "'feed-b'" in log_text()
        assert "storage.url changed; that takes a restart" in log_text()
        store = Store(f"sqlite:///{db}")  # feed-b's poll went to the database the daemon started with
        assert wait_until(lambda: store.source_state("feed-b").last_success_at is not None, 15)
        store.close()
        assert not (tmp_path / "other.db").exists()

        # an invalid file that would also drop feed-b: nothing of it is applied
        broken = base + '\n[[rules]]\nid = "loud"\nmin_negative = "three"\nroute = "crisis-team"\n' + daemon
        cfg.write_text(broken, encoding="utf-8")
        line = broken.splitlines().index('min_negative = "three"') + 1
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "still running the previous config" in log_text(), 20), log_text()
        assert f"{cfg}:{line}: rules[1].min_negative: must be an integer" in log_text(), log_text()
        seen = polls("/b")
        assert wait_until(lambda: polls("/b") > seen, 20)  # feed-b is still polled
        assert proc.poll() is None

        # the real daemon's endpoint under 100 idle connections: no thread each, /healthz answers
        before = thread_count(proc.pid)
        with ExitStack() as stack:
            for _ in range(100):
                stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
            status, body, took = healthz(port)
            assert status == 200 and body["scheduler"] == "running" and took < 3
            assert thread_count(proc.pid) <= before + 2, (before, thread_count(proc.pid))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, log_text()
    assert "stopped" in log_text()


def test_reload_reschedules_added_removed_and_changed_sources_in_process(tmp_path, feed_server, receiver, caplog):
    from monitor.daemon import Daemon

    def sources(*specs):
        return "".join(f'\n[[sources]]\nid = "{i}"\ntype = "rss"\nurl = "{feed_server.url("/" + i)}"\nevery = "{e}"\n'
                       for i, e in specs)

    base = config_text(tmp_path / "d.db", feed_server.url("/a"), "${RECEIVER_URL}").replace('id = "ga-dr-lin"',
                                                                                          'id = "keep"')
    env = {"RECEIVER_URL": receiver.apprise_url}
    cfg = write_config(tmp_path, base + sources(("edit", "5m"), ("drop", "5m")) + '\n[daemon]\nlisten = ""\n')
    app = App(load_config(cfg, env=env), scorer=None)
    daemon = Daemon(app)
    try:
        kept = app.connectors["keep"]
        assert {j.id for j in daemon.scheduler.get_jobs()} == {"source:keep", "source:edit", "source:drop", "outbox"}
        cfg.write_text(base + sources(("edit", "1m"), ("new", "5m")) + '\n[daemon]\nlisten = "127.0.0.1:8799"\n',
                       encoding="utf-8")
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("RECEIVER_URL", receiver.apprise_url)
            assert daemon.reload()
        jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
        assert set(jobs) == {"source:keep", "source:edit", "source:new", "outbox"}
        assert jobs["source:edit"].trigger.interval == timedelta(minutes=1)
        assert set(app.connectors) == {"keep", "edit", "new"} and app.connectors["keep"] is kept
        assert app.config.daemon.listen is None  # off, as it was: kept until a restart, and the log says so
        assert "daemon.listen changed; that takes a restart" in caplog.text
    finally:
        app.close()
