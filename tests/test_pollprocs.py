"""Polls in child processes ([daemon] poll_processes): the same mentions stored as by the
daemon's own threads, each article once when two children store it at once, a limited host
polled by one child, a child that dies replaced and its poll recorded as the source's failure."""
import os
import signal
import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from monitor.app import App
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.demo import alerts_feed
from monitor.errors import ConfigError
from monitor.pollprocs import PollProcesses, child_key
from monitor.store import Store
from monitor.store.tables import MentionRow
from tests.conftest import write_config

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _feed(i: int, url_of=lambda i, j: f"https://news.example.tw/{i}/{j}") -> bytes:
    return alerts_feed([(0, f"林志明醫師 第 {i}-{j} 則", f"林志明醫師 消息 {i}-{j}", url_of(i, j)) for j in range(3)],
                       NOW - timedelta(minutes=5))


def _config(tmp_path, feed_server, n: int, processes: int, name: str = "c", extra: str = "", more: str = ""):
    sources = "".join(f'[[sources]]\nid = "f{i}"\ntype = "google_alerts"\nurl = "{feed_server.url(f"/f{i}")}"\n'
                      f'every = "5m"\n\n' for i in range(n))
    return write_config(tmp_path, f"""
[storage]
url = "sqlite:///{tmp_path / name}.db"

[daemon]
poll_processes = {processes}
listen = ""
{extra}
[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明"]

{sources}{more}""", f"{name}.toml")


def _stored(url: str) -> list[tuple[str, str]]:
    store = Store(url)
    try:
        return sorted((m.source_id, m.title) for m in store.rows(MentionRow))
    finally:
        store.close()


def test_children_poll_and_store_what_the_daemons_threads_do(tmp_path, feed_server):
    for i in range(6):
        feed_server.set(f"/f{i}", _feed(i))
    here = App.from_config(load_config(_config(tmp_path, feed_server, 6, 0, "threads")), model=False)
    try:
        assert [here.poll_source(f"f{i}").new for i in range(6)] == [3] * 6
    finally:
        here.close()
    config = load_config(_config(tmp_path, feed_server, 6, 2, "children"))
    children = PollProcesses.of(config)
    try:
        reports = [children.poll(config.source(f"f{i}")) for i in range(6)]
        assert [(r.status, r.new, r.backfilled) for r in reports] == [("ok", 3, 3)] * 6  # first polls: history
        started = [c for c in children._children if c is not None]
        assert len(started) == 2 and all(c.process.pid != os.getpid() and c.alive() for c in started)
        again = [children.poll(config.source(f"f{i}")) for i in range(6)]
        assert [r.status for r in again] == ["not_modified"] * 6  # the ETag each child stored
    finally:
        children.close()
    assert all(not c.process.is_alive() for c in started)
    assert _stored(config.storage.url) == _stored(f"sqlite:///{tmp_path / 'threads'}.db")
    assert len(_stored(config.storage.url)) == 18


def test_two_processes_storing_one_article_at_once_store_it_once(tmp_path, monkeypatch):
    """Two stores on one SQLite file are two poll processes. The first looks the article's URL
    up and is held before inserting; the second stores the same article from another source
    meanwhile. The write lock the first takes before its lookups makes the second wait and then
    see the first one's row (without it, both would insert: a duplicate)."""
    from monitor.matching import Match
    from monitor.mention import Mention
    from monitor.store.mentions import MentionsRepo

    url = f"sqlite:///{tmp_path / 'two.db'}"
    first, second = Store(url), Store(url)
    looked, tried = threading.Event(), threading.Event()
    real = MentionsRepo._known

    def held(s, items):
        found = real(s, items)
        if threading.current_thread().name == "first":
            looked.set()
            tried.wait(3)  # the second's whole attempt, or 3 s when it has to wait for this one
        return found

    monkeypatch.setattr(MentionsRepo, "_known", staticmethod(held))

    def item(source_id):
        return [(Mention(source_id=source_id, title="林志明醫師 新聞", text="林志明醫師 消息",
                         url="https://news.example.tw/a/1", guid=f"{source_id}-1", published_at=NOW),
                 [Match("dr-lin", "林志明醫師")])]

    got = {}
    a = threading.Thread(target=lambda: got.setdefault("first", first.add_mentions(item("s1"), NOW)), name="first")
    a.start()
    assert looked.wait(10)
    got["second"] = second.add_mentions(item("s2"), NOW)
    tried.set()
    a.join(10)
    try:
        assert len(got["first"]) + len(got["second"]) == 1, got
        assert len(_stored(url)) == 1
    finally:
        first.close()
        second.close()


def test_children_store_each_shared_article_once(tmp_path, feed_server):
    same = lambda i, j: f"https://news.example.tw/shared/{j}"  # noqa: E731
    for i in range(8):
        feed_server.set(f"/f{i}", _feed(i, same))
    config = load_config(_config(tmp_path, feed_server, 8, 2))
    children = PollProcesses.of(config)
    assert {children.slot(s) for s in config.sources} == {0, 1}
    try:
        with __import__("concurrent.futures").futures.ThreadPoolExecutor(8) as pool:
            reports = list(pool.map(children.poll, config.sources))
    finally:
        children.close()
    assert all(r.status == "ok" for r in reports), reports
    assert sum(r.new for r in reports) == 3 and len(_stored(config.storage.url)) == 3


def test_a_limited_host_is_polled_by_one_child_and_the_rest_spread(tmp_path, feed_server):
    from connectors.spec import Source

    limited = {"www.ptt.cc", "slow.example"}.__contains__
    feeds = [Source(id=f"s{i}", type="rss", url=f"https://slow.example/{i}.xml") for i in range(20)]
    assert {child_key(s, limited) for s in feeds} == {"host:slow.example"}
    spread = [Source(id=f"s{i}", type="rss", url=f"https://news{i}.example/feed") for i in range(20)]
    assert len({child_key(s, limited) for s in spread}) == 20
    assert child_key(Source(id="r", type="reddit", url="https://oauth.reddit.com"), limited) == "type:reddit"
    config = load_config(_config(tmp_path, feed_server, 8, 2, extra='rate_limits = { "127.0.0.1" = "5/1s" }\n'))
    children = PollProcesses.of(config)
    assert len({children.slot(s) for s in config.sources}) == 1  # every source's host is limited: one child
    children.close()


def test_a_child_that_dies_mid_poll_is_the_sources_failure_and_is_replaced(tmp_path, feed_server):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts and never answers: a poll in flight
    threading.Thread(target=silent.accept, daemon=True).start()
    feed_server.set("/f0", _feed(0))
    stuck = (f'[[sources]]\nid = "stuck"\ntype = "rss"\nurl = "http://127.0.0.1:{silent.getsockname()[1]}/feed"\n'
             'timeout = "30s"\n')
    app = App.from_config(load_config(_config(tmp_path, feed_server, 1, 1, more=stuck)), model=False)
    daemon = Daemon(app)
    try:
        assert daemon._poll("f0").status == "ok"
        child = daemon.children._children[0]
        threading.Timer(1.0, os.kill, (child.process.pid, signal.SIGKILL)).start()
        started = time.monotonic()
        failed = daemon._poll("stuck")
        assert failed.status == "failed" and "poll process exited" in failed.error, failed
        assert time.monotonic() - started < 10  # not the source's 30 s timeout
        state = app.store.source_state("stuck")
        assert state.last_error and "poll process exited" in state.last_error  # silence is not calm
        assert daemon._poll("f0").status == "not_modified"  # a new child, the stored ETag
        assert daemon.children._children[0] is not child
    finally:
        daemon.children.close()
        app.close()
        silent.close()


def test_a_negative_count_of_processes_names_the_key(tmp_path, feed_server):
    with pytest.raises(ConfigError, match=r"daemon\.poll_processes"):
        load_config(_config(tmp_path, feed_server, 1, -1))
