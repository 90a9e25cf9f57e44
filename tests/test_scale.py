"""Scale-out on Celery (:mod:`monitor.scale`) with a real Redis and a real PostgreSQL: real
``repwatch worker`` and ``repwatch processor`` processes against a local feed server that
answers every request 200 ms late, like a slow site.

REPWATCH_TEST_REDIS_URL (scripts/redis.sh) and REPWATCH_TEST_PG_URL (scripts/pg.sh) name
the servers; .ci/run starts both. Each test uses its own Redis database (flushed) and its
own PostgreSQL database.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import _pg_url, connected_before, write_config

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.redis
ENTRY = """<entry><id>tag:google.com,2013:googlealerts/feed:{key}</id><title type="html">{title}</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example.tw/{key}&amp;ct=ga"></link>
<published>{at}</published><updated>{at}</updated><content type="html">{text}</content></entry>"""


def atom(entries: list[tuple[str, str, str]]) -> bytes:
    from monitor.clock import SystemClock

    at = SystemClock().now().strftime("%Y-%m-%dT%H:%M:%SZ")
    body = "".join(ENTRY.format(key=k, title=t, text=x, at=at) for k, t, x in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Google Alerts</title>{body}</feed>").encode()


class SlowFeeds:
    """Atom feeds by path with ETags (304 when unchanged), each answered ``delay`` seconds
    late, as Google Alerts feeds are answered by a slow site; ``hold`` keeps the first
    request for a path open until ``release`` is set (a poll caught mid-fetch)."""

    def __init__(self, delay: float = 0.2):
        owner = self
        self.delay, self.feeds, self.hits, self.lock = delay, {}, [], threading.Lock()
        self.hold, self.held, self.release = None, threading.Event(), threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with owner.lock:
                    owner.hits.append((time.monotonic(), self.path))
                    first = self.path == owner.hold and not owner.held.is_set()
                if first:
                    owner.held.set()
                    owner.release.wait(30)
                    return  # its client was killed: nothing to answer
                time.sleep(owner.delay)
                body = owner.feeds.get(self.path)
                etag = f'"{hash(body):x}"'
                if body and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200 if body else 404)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request, client_address):
                pass  # a killed worker's connection

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def count(self, since: float = 0.0, until: float = float("inf"), path: str | None = None) -> int:
        with self.lock:
            return sum(1 for t, p in self.hits if since <= t < until and (path is None or p == path))

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _redis_base() -> str:
    url = os.environ.get("REPWATCH_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("REPWATCH_TEST_REDIS_URL is not set under CI: .ci/run must start Redis")
        pytest.skip("REPWATCH_TEST_REDIS_URL not set (scripts/redis.sh starts a Redis server)")
    return url


@pytest.fixture
def redis_url(request):
    """A Redis database of this test's own (1-15, by test), flushed before and after."""
    import redis

    base = _redis_base().rstrip("/")
    base = re.sub(r"/\d+$", "", base)
    db = 1 + sum(map(ord, request.node.name)) % 15
    url = f"{base}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def pg_db():
    """A fresh PostgreSQL database."""
    import sqlalchemy as sa

    base = _pg_url().replace("postgresql://", "postgresql+psycopg://")
    name = "rw_scale_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"{base.rpartition('/')[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def feeds():
    server = SlowFeeds()
    yield server
    server.close()


class Procs:
    """``repwatch`` subprocesses, each logging to its own file; all killed at the end."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs = tmp, []

    def start(self, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"proc{len(self.procs)}.log", "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=ROOT, stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        proc.log = Path(log.name)  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def wait_log(self, proc, pattern: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, proc.log.read_text(errors="replace")):
                return
            assert proc.poll() is None, proc.log.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in {timeout}s:\n" + proc.log.read_text(errors="replace")[-3000:])

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)


@pytest.fixture
def procs(tmp_path):
    p = Procs(tmp_path)
    yield p
    p.kill_all()


def scale_config(tmp_path, db, redis_url, sources: str, extra: str = "", scale: str = ""):
    return write_config(tmp_path, f"""
    [storage]
    url = "{db}"

    [daemon]
    listen = ""
    jitter = "0s"

    [scale]
    broker = "{redis_url}"
    queue = "rw-test"
    {scale}

    [[entities]]
    id = "dr-lin"
    name = "林志明醫師"
    aliases = ["林志明"]

    [[entities]]
    id = "renxin"
    name = "仁心診所"
    kind = "clinic"
    {extra}
    """ + sources)


def source(i, url: str, timeout: str = "5s") -> str:
    return f'\n[[sources]]\nid = "{i}"\ntype = "google_alerts"\nurl = "{url}"\nevery = "1h"\ntimeout = "{timeout}"\n'


def mention_count(db) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM mentions")).scalar()
    engine.dispose()
    return n


def migrated(path):
    from monitor.config import load_config
    from monitor.store import Store

    config = load_config(path)
    Store(config.storage.url).close()  # the schema, once, before the workers open it
    return config


def enqueue(config, ids) -> None:
    from monitor.scale import POLL_TASK, make_celery

    celery = make_celery(config)
    with celery.producer_or_acquire() as producer:
        for i in ids:
            celery.send_task(POLL_TASK, args=[i], queue=config.scale.queue, producer=producer)


WINDOW = 5.0  # seconds of polls counted for each worker count


def _polls_in_window(feeds, procs, proc) -> int:
    procs.wait_log(proc, r"ready\.", 60)
    time.sleep(1.0)  # its first polls under way
    start = time.monotonic()
    time.sleep(WINDOW)
    return feeds.count(start, start + WINDOW)


def test_the_rate_limit_holds_across_workers(redis_url):
    """Two limiters (two workers) on one host limited to 5 a second: together they wait as
    one bucket does, 10 requests taking the 5 tokens then one every 0.2 s."""
    import redis

    from monitor.scale import Keys, RedisHostLimiter
    from tests.conftest import Sleeps

    client = redis.Redis.from_url(redis_url)
    waits = [Sleeps(), Sleeps()]
    workers = [RedisHostLimiter(client, Keys("rw-test"), {"feeds.example": (5, 1.0)}, sleep=s) for s in waits]
    for i in range(10):
        workers[i % 2].acquire("feeds.example")
    got = sorted(waits[0] + waits[1])
    assert len(got) == 5 and got[-1] == pytest.approx(1.0, abs=0.1)  # the 10th waits for the 5th new token
    assert workers[0].acquire("other.example") == 0.0  # unlimited hosts never touch Redis


def test_a_poll_is_retried_with_backoff_while_the_database_is_away(redis_url):
    """The infrastructure away: retried (the pending mark kept) up to MAX_RETRIES, then given up
    (the mark cleared). A source's own failure with the database up is not retried."""
    import redis
    from sqlalchemy.exc import OperationalError

    from monitor.scale import Keys, Pending
    from monitor.scale.tasks import MAX_RETRIES, run_poll

    class Retry(Exception):
        pass

    class Task:
        def __init__(self, retries):
            self.request = type("Request", (), {"retries": retries})()
            self.countdowns = []

        def retry(self, exc, countdown, max_retries):
            self.countdowns.append(countdown)
            return Retry()

    class App:
        config = type("C", (), {"sources": (type("S", (), {"id": "s", "enabled": True})(),)})()

        def __init__(self, failure):
            self.failure = failure

        def poll_source(self, source_id):
            if self.failure:
                raise OperationalError("SELECT", {}, Exception("connection refused"))
            return type("Report", (), {"status": "ok", "new": 0, "edited": 0})()

    client, keys = redis.Redis.from_url(redis_url), Keys("rw-test")
    pending = Pending(client, keys, timedelta(minutes=1))
    assert pending.claim("s") and not pending.claim("s")
    task = Task(retries=1)
    with pytest.raises(Retry):
        run_poll(task, App(True), client, keys, pending, "s", max_delay=5.0)
    assert 3.0 <= task.countdowns[0] <= 4.0 and client.exists(keys.pending("s"))  # 4 s less jitter, still pending
    with pytest.raises(Retry):
        run_poll(task := Task(retries=4), App(True), client, keys, pending, "s", max_delay=5.0)
    assert 3.75 <= task.countdowns[0] <= 5.0  # 32 s capped under the visibility timeout
    with pytest.raises(OperationalError):
        run_poll(Task(retries=MAX_RETRIES), App(True), client, keys, pending, "s")
    assert not client.exists(keys.pending("s"))  # given up: the next due poll may be queued
    assert pending.claim("s")
    assert run_poll(Task(retries=0), App(False), client, keys, pending, "s") == "ok"
    assert not client.exists(keys.pending("s"))


def test_the_scheduler_keeps_its_grid_and_never_queues_a_pending_source_twice(tmp_path, redis_url):
    import redis

    from monitor.clock import SystemClock
    from monitor.config import load_config
    from monitor.scale import Keys, Pending, Scheduler

    path = scale_config(tmp_path, "sqlite:///unused.db", redis_url, source("a", "http://127.0.0.1:9/a") +
                        source("b", "http://127.0.0.1:9/b"))
    config = load_config(path)
    pending = Pending(redis.Redis.from_url(redis_url), Keys("rw-test"), timedelta(minutes=5))
    sent: list[str] = []
    start = SystemClock().now()
    schedule = Scheduler(config, sent.append, pending, start)
    assert schedule.tick(start).queued == ["a", "b"]  # jitter 0s: both due at start
    late = start + timedelta(hours=1, minutes=7)  # a poll of "a" still pending, "b" done
    pending.release("b")
    report = schedule.tick(late)
    assert report.queued == ["b"] and report.pending == ["a"] and sent == ["a", "b", "b"]
    assert schedule.due_at["a"] == schedule.due_at["b"] == start + timedelta(hours=2)  # the grid, not late + 1h


@pytest.mark.serial  # a throughput ratio: it needs the machine's spare cores, so it runs alone
def test_two_workers_poll_about_twice_as_much_and_store_each_mention_once(tmp_path, pg_db, redis_url, feeds, procs):
    n = 40
    for i in range(n):
        feeds.feeds[f"/f{i}"] = atom([(f"{i}-{j}", f"林志明 消息 {i}-{j}", f"林志明醫師 第 {j} 則") for j in range(3)])
    path = scale_config(tmp_path, pg_db, redis_url, "".join(source(f"f{i}", feeds.url(f"/f{i}")) for i in range(n)))
    config = migrated(path)
    # each source twice in a row: two threads (or two workers) poll it at the same time
    enqueue(config, [f"f{i % n}" for i in range(700) for _ in (0, 1)])
    one = procs.start("worker", "-c", str(path), "--concurrency", "4")
    polls_1 = _polls_in_window(feeds, procs, one)
    two = procs.start("worker", "-c", str(path), "--concurrency", "4")
    polls_2 = _polls_in_window(feeds, procs, two)
    ratio = polls_2 / polls_1
    print(f"\npolls in {WINDOW:g}s at 200 ms per request: 1 worker {polls_1}, 2 workers {polls_2}, ratio {ratio:.2f}")
    assert polls_1 >= 0.5 * 4 * WINDOW / 0.2, polls_1  # one worker keeps its 4 threads busy
    assert ratio >= 1.8
    procs.kill_all()
    assert mention_count(pg_db) == 3 * n  # polled again and again, by both at once: each mention once


def test_a_worker_killed_mid_poll_loses_nothing_and_stores_nothing_twice(tmp_path, pg_db, redis_url, feeds, procs):
    feeds.feeds["/held"] = atom([(f"h-{j}", f"林志明 新聞 {j}", "林志明醫師") for j in range(3)])
    feeds.hold = "/held"
    path = scale_config(tmp_path, pg_db, redis_url, source("held", feeds.url("/held"), timeout="4s"),
                        scale='visibility_timeout = "6s"')
    config = migrated(path)
    first = procs.start("worker", "-c", str(path), "--concurrency", "2")
    procs.wait_log(first, r"ready\.", 60)
    enqueue(config, ["held"])
    assert feeds.held.wait(20), "the poll never reached the feed"
    first.send_signal(signal.SIGKILL)  # mid-fetch: the message is unacknowledged
    first.wait(10)
    feeds.release.set()
    killed_at = time.monotonic()
    procs.start("worker", "-c", str(path), "--concurrency", "2")
    deadline = time.monotonic() + 40
    while mention_count(pg_db) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    redelivered = time.monotonic() - killed_at
    time.sleep(2)  # room for a duplicate to show up
    print(f"\nredelivered and stored {redelivered:.1f}s after the kill (visibility timeout 6s)")
    assert mention_count(pg_db) == 3
    assert feeds.count(path="/held") == 2  # the killed fetch and the redelivered one, no third
    import redis

    assert not redis.Redis.from_url(redis_url).exists("rw-test:pending:held")


def _leader_pid(db) -> int | None:
    from monitor.scale import leader

    name = leader(db, "processor")
    return int(name.rsplit(":", 1)[1]) if name else None


def _wait(what, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


def _lease_free(db) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT expires_at FROM leases WHERE name = 'process'")).first()
        sending = conn.execute(sa.text("SELECT count(*) FROM deliveries WHERE status <> 'sent'")).scalar()
    engine.dispose()
    return row is not None and row[0].year == 1970 and sending == 0


def test_a_killed_processor_hands_over_within_30s_and_nothing_is_paged_twice(tmp_path, pg_db, redis_url, feeds,
                                                                             procs, receiver):
    from monitor.app import App
    from monitor.clock import SystemClock

    feeds.feeds["/lin"] = atom([("lin-1", "林志明醫師 醫療疏失", "林志明醫師 醫療疏失 提告")])
    feeds.feeds["/renxin"] = atom([("rx-1", "仁心診所 醫療疏失", "仁心診所 醫療疏失 提告")])
    route = f"""
    [[routes]]
    id = "crisis"
    language = "en"
    notify = ["{receiver.apprise_url}"]
    group_wait = "0s"
    matchers = ['kind="severe"']

    [[rules]]
    id = "severe"
    kind = "severe"
    route = "crisis"
    """
    path = scale_config(tmp_path, pg_db, redis_url, source("lin", feeds.url("/lin")) + source("renxin",
                        feeds.url("/renxin")), extra=route, scale='process_every = "2s"')
    config = migrated(path)
    connected_before(config, SystemClock().now() - timedelta(hours=1))  # what they bring now is news, not history
    pollers = App.from_config(config, model=False)
    a, b = (procs.start("processor", "-c", str(path)) for _ in range(2))
    first = _wait(lambda: _leader_pid(pg_db), 60)
    assert first in (a.pid, b.pid)
    pollers.poll_source("lin")
    assert receiver.wait_for(1, 30), "the leader never paged"
    assert _wait(lambda: _lease_free(pg_db), 10), "the leader never finished its run"
    os.kill(first, signal.SIGKILL)  # between runs: its last page is recorded as sent
    killed_at = time.monotonic()
    second = _wait(lambda: (p := _leader_pid(pg_db)) not in (None, first) and p, 30, step=0.05)
    took = time.monotonic() - killed_at
    print(f"\nprocessor lock taken over {took:.1f}s after kill -9 of the leader")
    assert second in (a.pid, b.pid) and second != first and took < 30
    pollers.poll_source("renxin")
    assert receiver.wait_for(2, 30), "the new leader never paged"
    time.sleep(4.5)  # two more periods of the new leader: nothing is sent again
    pollers.close()
    texts = [r.payload.get("title", "") + r.payload.get("message", "") for r in receiver.received]
    assert len(receiver.received) == 2, texts
    assert sum("renxin" in t or "仁心" in t for t in texts) == 1


def test_repwatch_run_with_a_broker_schedules_polls_for_workers_and_processes_them(tmp_path, pg_db, redis_url,
                                                                                   feeds, procs, receiver):
    """The daemon in scale-out mode: ``repwatch run`` queues due polls and leads processing;
    the polls themselves run on a ``repwatch worker``, never in the daemon."""
    from monitor.clock import SystemClock

    feeds.feeds["/lin"] = atom([("lin-1", "林志明醫師 醫療疏失", "林志明醫師 醫療疏失 提告")])
    route = f"""
    [[routes]]
    id = "crisis"
    language = "en"
    notify = ["{receiver.apprise_url}"]
    group_wait = "0s"
    matchers = ['kind="severe"']

    [[rules]]
    id = "severe"
    kind = "severe"
    route = "crisis"
    """
    path = scale_config(tmp_path, pg_db, redis_url, source("lin", feeds.url("/lin")), extra=route,
                        scale='process_every = "2s"')
    config = migrated(path)
    connected_before(config, SystemClock().now() - timedelta(hours=1))  # what it brings now is news
    run = procs.start("run", "-c", str(path))
    procs.wait_log(run, r"scheduler \S+ leads: 1 sources", 90)
    assert _wait(lambda: _leader_pid(pg_db) == run.pid, 60), "run never led processing"
    time.sleep(2.0)
    assert feeds.count(path="/lin") == 0  # queued, not polled: the daemon polls nothing itself
    procs.start("worker", "-c", str(path), "--concurrency", "2")
    assert _wait(lambda: feeds.count(path="/lin") >= 1, 60), "the worker never polled what run queued"
    assert receiver.wait_for(1, 60), "run never paged what the worker stored"
    assert mention_count(pg_db) == 1
