"""Faults in a poll (issue 14): a malformed field, a server that trickles, a feed in the
wrong charset, malformed ids, one article from two sources, an edited review.

Real connectors, respx or real local servers, real SQLite (and PostgreSQL for storage)."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import httpx
import pytest
import sqlalchemy as sa

from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.demo import alerts_feed
from monitor.matching import Match
from monitor.mention import Mention, canonical_url
from monitor.sentiment import Score
from monitor.store import MentionRow, Store
from tests.conftest import T0, write_config

YELP_URL = "https://api.yelp.com/v3/businesses/renxin-clinic-taipei/reviews"
NEWS_URL = "https://news.example.tw/feed.xml"


class WordScorer:
    """A model stand-in with a known answer: "差" is negative, anything else positive."""

    name = "words"

    def __init__(self):
        self.seen: list[str] = []

    def score(self, texts):
        self.seen += texts
        return [Score("negative", 0.95, 0.95) if "差" in t else Score("positive", 0.9, 0.05) for t in texts]


def config(tmp_path, sources: str, daemon: str = "", receiver=None):
    ops = f'json://127.0.0.1:{receiver.port}/ops' if receiver else "json://127.0.0.1:9/ops"
    text = f"""
[storage]
url = "sqlite:///{tmp_path / 'rw.db'}"

[daemon]
{daemon}

[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明"]

[[entities]]
id = "renxin-clinic"
name = "仁心診所"

{sources}

[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/crisis"]

[[routes]]
id = "ops"
notify = ["{ops}"]
language = "en"

[[rules]]
id = "burst"
route = "crisis"
min_negative = 50
window = "1h"
"""
    return load_config(write_config(tmp_path, text), env={"YELP_API_KEY": "test-key"})


def rss(items: list[tuple[str | None, str, str, str]]) -> str:
    """An RSS 2.0 feed of (guid, title, text, link)."""
    body = "".join(
        "<item>" + (f"<guid isPermaLink=\"false\">{escape(g)}</guid>" if g else "")
        + f"<title>{escape(t)}</title><description>{escape(d)}</description><link>{escape(u)}</link>"
        "<pubDate>Sun, 22 Nov 2026 09:00:00 GMT</pubDate></item>"
        for g, t, d, u in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>news</title>{body}</channel></rss>'


def yelp_review(rid, text, rating, url="default", **extra):
    review = {"id": rid, "text": text, "rating": rating, "time_created": "2026-11-21 10:00:00",
              "user": {"name": "Amy"}}
    if url == "default":
        url = f"https://www.yelp.com/biz/renxin-clinic-taipei?hrid={rid}"
    if url is not None:
        review["url"] = url
    review.update(extra)
    return review


YELP_SOURCE = """
[[sources]]
id = "yelp"
type = "yelp"
about = "renxin-clinic"
business_id = "renxin-clinic-taipei"
"""


# --------------------------------------------------------------------------- 1. one bad field


def test_bad_fields_are_dropped_item_by_item_and_the_rest_stored(router, tmp_path, clock):
    reviews = [
        yelp_review("r1", "醫師很細心", "five"),  # a rating that is not a number: stored without it
        yelp_review("r2", "櫃檯態度很差", 1, url=42),  # a URL that is a number: stored without it
        yelp_review("r3", {"zh": "?"}, 4),  # text that is an object: a star-only review
        yelp_review("r4", "很好", 5, time_created=12345, user={"name": ["x"]}),
        yelp_review("r5", {"zh": "?"}, "bad"),  # nothing left to say: skipped
    ]
    router.get(YELP_URL).mock(return_value=httpx.Response(200, json={"reviews": reviews, "total": 5}))
    router.get(NEWS_URL).mock(return_value=httpx.Response(200, text=rss([("n1", "仁心診所 擴建", "新院區", "https://news.example.tw/a/1")]),
                                                          headers={"Content-Type": "application/rss+xml"}))
    cfg = config(tmp_path, YELP_SOURCE + f'\n[[sources]]\nid = "news"\ntype = "rss"\nurl = "{NEWS_URL}"\n')
    app = App(cfg, scorer=WordScorer(), clock=clock)
    try:
        polls, processed = app.cycle()
        by_id = {p.source_id: p for p in polls}
        assert by_id["yelp"].status == "ok" and by_id["yelp"].new == 4, by_id["yelp"]
        assert by_id["news"].status == "ok" and by_id["news"].new == 1  # the next source was polled too
        stored = {m.text: m for m in app.store.mentions(limit=50) if m.source_id == "yelp"}
        assert set(stored) == {"醫師很細心", "櫃檯態度很差", "", "很好"}
        assert stored["醫師很細心"].rating is None and stored["櫃檯態度很差"].url is None
        assert stored[""].rating == 4.0 and stored["很好"].author is None
        warnings = app.store.source_state("yelp").last_warnings
        assert "item #1: rating 'five' is not a number from 1 to 5; dropped" in warnings
        assert "item #2: url was a number, not a string; dropped" in warnings
        assert "item #5 has no title, text or rating left; skipped" in warnings
        assert processed.scored == 5 and processed.score_error is None
        assert app.health()["yelp"].state == "ok"
    finally:
        app.close()


def test_a_storage_error_fails_its_source_only_and_is_noticed(tmp_path, clock, feed_server, receiver):
    feed_server.set("/a", rss([("a1", "林志明醫師", "病人 王小明 的病歷號 12345", "https://a.example.tw/1")]))
    feed_server.set("/b", rss([("b1", "林志明醫師", "很親切", "https://b.example.tw/1")]))
    sources = "".join(f'\n[[sources]]\nid = "{s}"\ntype = "rss"\nurl = "{feed_server.url("/" + s)}"\n' for s in "ab")
    cfg = config(tmp_path, sources, daemon='ops_route = "ops"\nfailures_before_notice = 1', receiver=receiver)
    app = App(cfg, scorer=WordScorer(), clock=clock)
    try:
        with app.store.engine.begin() as conn:  # the database refuses source a's rows
            conn.execute(sa.text("CREATE TRIGGER refuse_a BEFORE INSERT ON mentions WHEN NEW.source_id = 'a' "
                                 "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"))
        polls, _ = app.cycle()
        a, b = polls
        assert a.status == "failed" and "disk quota exceeded" in a.error
        assert "王小明" not in a.error and "INSERT" not in a.error  # no statement, no mention text
        assert b.status == "ok" and b.new == 1
        state = app.store.source_state("a")
        assert state.status == "failing" and state.consecutive_failures == 1 and state.cursor is None
        assert app.health()["a"].state == "failing"  # not "new / not polled yet"
        assert receiver.wait_for(1, timeout=10)
        notice = receiver.received[0]
        assert notice.path == "/ops" and "disk quota exceeded" in notice.payload["message"]
        assert "王小明" not in json.dumps(notice.payload, ensure_ascii=False)
    finally:
        app.close()


# --------------------------------------------------------------------------- 2. a timeout is a deadline


class Trickle:
    """A TCP server that answers one byte a second (from the status line, or from the body),
    for at most ``limit`` seconds a connection; it records when each connection arrived."""

    def __init__(self, phase: str, body: bytes, limit: float = 8.0):
        self.phase, self.body, self.limit = phase, body, limit
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.arrivals: list[float] = []
        self.threads: list[threading.Thread] = []

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=3)
        self.sock.close()

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.arrivals.append(time.monotonic())
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self.threads.append(t)

    def _serve(self, conn):
        with conn:
            conn.settimeout(1.0)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: "
                    + str(len(self.body)).encode() + b"\r\n\r\n")
            slow = head + self.body
            if self.phase == "body":
                conn.sendall(head)
                slow = self.body
            started = time.monotonic()
            for byte in slow:
                if self.stop.is_set() or time.monotonic() - started > self.limit:
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                self.stop.wait(1.0)


class Timed(BaseHTTPRequestHandler):
    """Serves one feed and records when it was asked for."""

    feed = b""
    arrivals: list[float] = []

    def do_GET(self):  # noqa: N802
        type(self).arrivals.append(time.monotonic())
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.feed)))
        self.end_headers()
        self.wfile.write(self.feed)

    def log_message(self, *args):
        pass


@pytest.mark.model
@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_server_is_cut_at_the_sources_timeout(tmp_path, phase, capsys):
    feed = rss([("f1", "林志明醫師", "很親切", "https://fast.example.tw/1")]).encode()
    Timed.feed, Timed.arrivals = feed, []
    fast = ThreadingHTTPServer(("127.0.0.1", 0), Timed)
    threading.Thread(target=fast.serve_forever, daemon=True).start()
    try:
        with Trickle(phase, feed) as slow:
            cfg = write_config(tmp_path, f"""
                [storage]
                url = "sqlite:///{tmp_path / 'rw.db'}"
                [[entities]]
                id = "dr-lin"
                name = "林志明醫師"
                [[sources]]
                id = "slow"
                type = "rss"
                url = "http://127.0.0.1:{slow.port}/feed"
                timeout = "2s"
                [[sources]]
                id = "fast"
                type = "rss"
                url = "http://127.0.0.1:{fast.server_address[1]}/feed"
                [[routes]]
                id = "crisis"
                notify = ["json://127.0.0.1:9/crisis"]
                [[rules]]
                id = "burst"
                route = "crisis"
                min_negative = 50
                window = "1h"
                """)
            assert main(["poll", "--config", str(cfg), "--json"]) == 0
            out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
            polls = {p["source_id"]: p for p in out["sources"]}
            assert polls["slow"]["status"] == "failed" and "2s timeout" in polls["slow"]["error"]
            assert polls["slow"]["seconds"] < 3.0  # the whole fetch, not 3 attempts x the trickle
            assert len(slow.arrivals) == 1  # no retry that could not finish in time
            assert polls["fast"]["status"] == "ok" and polls["fast"]["new"] == 1
            # polled at the same time: the fast source did not wait for the slow one
            assert len(Timed.arrivals) == 1 and Timed.arrivals[0] - slow.arrivals[0] < 1.0
    finally:
        fast.shutdown()
        fast.server_close()


# --------------------------------------------------------------------------- 11. Big5 declared UTF-8


@pytest.mark.parametrize("codec,name", [("cp950", "Big5"), ("gb18030", "GB18030")])
def test_a_feed_in_big5_declared_utf8_is_decoded_and_matches(tmp_path, clock, feed_server, codec, name):
    feed = rss([("b1", "林志明醫師 看診態度差", "病患抱怨林志明醫師", "https://news.example.tw/a/5")])
    feed_server.set("/feed", feed.encode(codec), ctype="application/rss+xml; charset=utf-8")
    cfg = config(tmp_path, f'[[sources]]\nid = "news"\ntype = "rss"\nurl = "{feed_server.url("/feed")}"\n')
    app = App(cfg, scorer=WordScorer(), clock=clock)
    try:
        report = app.poll_source("news")
        assert report.status == "ok" and report.matched == 1 and report.new == 1
        assert app.store.mentions()[0].title == "林志明醫師 看診態度差"
        assert f"decoded as {name}" in app.store.source_state("news").last_warnings  # source health shows it
    finally:
        app.close()


# --------------------------------------------------------------------------- 12. identity


def test_malformed_ids_fall_back_and_do_not_collide(router, tmp_path, clock):
    reviews = [
        yelp_review({"v": 1}, "林志明醫師很細心", 5, url=None),
        yelp_review({"v": 1}, "林志明醫師遲到", 2, url=None),  # the same malformed id, another review
        yelp_review([], "林志明醫師還好", 3, url=None),
        yelp_review("", "林志明醫師親切", 5, url=None),
        yelp_review(12345, "林志明醫師專業", 5, url=None),  # a numeric id is an id
    ]
    router.get(YELP_URL).mock(return_value=httpx.Response(200, json={"reviews": reviews}))
    app = App(config(tmp_path, YELP_SOURCE), scorer=WordScorer(), clock=clock)
    try:
        report = app.poll_source("yelp")
        assert report.status == "ok" and report.new == 5
        assert sum("guid was an object" in w for w in report.warnings) == 2
        assert any("item #3: guid was a list" in w for w in report.warnings)
        assert app.poll_source("yelp").new == 0  # and the fallbacks are stable: nothing twice
    finally:
        app.close()


@pytest.mark.parametrize("order", [("rss", "ga"), ("ga", "rss")])
def test_one_article_from_a_feed_and_google_alerts_is_stored_once(tmp_path, clock, feed_server, order):
    feed_server.set("/rss", rss([("news-2026-1122-88", "林志明醫師 遭投訴", "病患投訴",
                                  "https://news.example.tw/a/88?utm_source=rss")]))
    feed_server.set("/ga", alerts_feed([(0, "林志明醫師 遭投訴", "病患投訴", "https://www.news.example.tw/a/88")], T0))
    cfg = config(tmp_path, f'[[sources]]\nid = "rss"\ntype = "rss"\nurl = "{feed_server.url("/rss")}"\n'
                           f'[[sources]]\nid = "ga"\ntype = "google_alerts"\nurl = "{feed_server.url("/ga")}"\n')
    app = App(cfg, scorer=WordScorer(), clock=clock)
    try:
        first, second = (app.poll_source(s) for s in order)
        assert (first.new, second.new) == (1, 0) and second.matched == 1
        assert app.store.count_mentions() == 1
    finally:
        app.close()


def test_mobile_and_www_links_are_one_article(tmp_path, clock, feed_server):
    feed_server.set("/ga1", alerts_feed([(0, "林志明醫師", "新聞", "https://m.news.example.tw/a/9")], T0))
    feed_server.set("/ga2", alerts_feed([(0, "林志明醫師", "新聞", "https://www.news.example.tw/a/9/")], T0))
    feed_server.set("/rss", rss([("g-9", "林志明醫師", "新聞", "http://mobile.news.example.tw/a/9")]))
    sources = "".join(f'[[sources]]\nid = "{s}"\ntype = "{t}"\nurl = "{feed_server.url("/" + s)}"\n'
                      for s, t in (("ga1", "google_alerts"), ("ga2", "google_alerts"), ("rss", "rss")))
    app = App(config(tmp_path, sources), scorer=WordScorer(), clock=clock)
    try:
        assert [app.poll_source(s).new for s in ("ga1", "ga2", "rss")] == [1, 0, 0]
        (stored,) = app.store.mentions()
        assert stored.url == "https://m.news.example.tw/a/9"  # the link as found: it must still work
    finally:
        app.close()


def test_an_edited_review_is_a_new_version_of_the_same_mention_and_scored_again(tmp_path, clock, feed_server):
    feed_server.set("/feed", rss([("rev-1", "", "林志明醫師很親切", "https://r.example.tw/1"),
                                  ("rev-2", "", "林志明醫師很準時", "https://r.example.tw/2")]))
    scorer = WordScorer()
    app = App(config(tmp_path, f'[[sources]]\nid = "rv"\ntype = "rss"\nurl = "{feed_server.url("/feed")}"\n'),
              scorer=scorer, clock=clock)
    try:
        app.cycle()
        one, two = sorted(app.store.mentions(), key=lambda m: m.id)
        assert one.label == two.label == "positive"
        app.store.label_mention(two.id, "negative", None, "pr-team", T0)  # a human's verdict on rev-2
        clock.advance(timedelta(hours=1))
        feed_server.set("/feed", rss([("rev-1", "", "林志明醫師態度很差", "https://r.example.tw/1"),
                                      ("rev-2", "", "林志明醫師很準時,很棒", "https://r.example.tw/2")]))
        polls, processed = app.cycle()
        assert polls[0].new == 0 and processed.scored == 2
        assert app.store.count_mentions() == 2  # the same rows: ids, alerts and incidents stay valid
        one2, two2 = (app.store.get(MentionRow, m.id) for m in (one, two))
        assert one2.text == "林志明醫師態度很差" and one2.sentiment_label == "negative"  # scored again
        assert one2.edited_at == T0 + timedelta(hours=1)
        (v1,) = app.store.mention_versions(one.id)
        assert (v1.version, v1.text, v1.seen_at) == (1, "林志明醫師很親切", T0)
        assert two2.human_label == "negative" and two2.sentiment_label == "negative"  # the human's verdict stands
        assert two2.verdict_by == "human" and two2.model_label == "positive"  # the model saw the new text
        assert scorer.seen.count("林志明醫師態度很差") == 1
        assert app.cycle()[1].scored == 0  # 304 / unchanged: no new version, nothing scored again
        assert len(app.store.mention_versions(one.id)) == 1
    finally:
        app.close()


# --------------------------------------------------------------------------- identity in storage (both engines)

M = [Match("dr-lin", "林志明")]


def test_the_canonical_url_is_a_second_key_across_sources_not_within_one(store):
    a = Mention("s1", "", "第一則評論", url="https://www.r.example/page", guid="g1")
    b = Mention("s1", "", "第二則評論", url="https://www.r.example/page", guid="g2")  # one page, two reviews
    assert len(store.add_mentions([(a, M), (b, M)], T0)) == 2
    c = Mention("s2", "", "同一篇", url="https://m.r.example/page/?utm_source=x", guid="other")
    d = Mention("s3", "", "同一篇", url="http://r.example/page")
    assert store.add_mentions([(c, M), (d, M)], T0) == []
    assert store.count_mentions() == 2
    assert canonical_url("https://mobile.r.example/page#x") == canonical_url("https://www.r.example/page/")


def test_rows_stored_before_the_url_key_are_keyed_on_opening(db_url):
    s = Store(db_url)
    s.add_mentions([(Mention("old", "", "舊文章", url="https://www.news.example/a/1", guid="x"), M)], T0)
    with s.engine.begin() as conn:  # as an older repwatch left it (no schema version table then)
        conn.execute(sa.text("UPDATE mentions SET url_key = NULL"))
        conn.execute(sa.text("DROP TABLE alembic_version"))
    s.close()
    s = Store(db_url)
    try:
        assert s.add_mentions([(Mention("new", "", "舊文章", url="https://m.news.example/a/1"), M)], T0) == []
        assert s.count_mentions() == 1
    finally:
        s.close()


def test_an_edit_keeps_the_row_and_its_history(store):
    first = Mention("yelp", "", "很好", guid="r1", rating=5)
    (ident,) = store.add_mentions([(first, M)], T0)
    store.save_scores([(ident, "positive", 0.9, 0.05)], "m", T0)
    edited: list[int] = []
    later = T0 + timedelta(days=1)
    assert store.add_mentions([(Mention("yelp", "", "很差", guid="r1", rating=1), M)], later, edited=edited) == []
    assert edited == [ident]
    row = store.get(MentionRow, ident)
    assert (row.text, row.rating, row.sentiment_label, row.model_label, row.scored_at) == ("很差", 1.0, None, None, None)
    assert [u.id for u in store.unscored(10)] == [ident]
    store.add_mentions([(Mention("yelp", "", "很差!", guid="r1", rating=1), M)], later + timedelta(days=1))
    versions = store.mention_versions(ident)
    assert [(v.version, v.text, v.rating, v.seen_at) for v in versions] == [(1, "很好", 5.0, T0), (2, "很差", 1.0, later)]
    # the same content again (whitespace aside) is not an edit
    assert store.add_mentions([(Mention("yelp", "", " 很差! ", guid="r1", rating=1), M)], later, edited=edited) == []
    assert edited == [ident] and len(store.mention_versions(ident)) == 2
