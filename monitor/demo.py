"""``repwatch demo``: the whole product, offline, in about a minute.

A Google Alerts-style Atom feed is served on 127.0.0.1. It starts with a kind review,
a news item and a mention of a *different* 林志明 (a borough chief, excluded by the
config), then gains one negative review about every 12 seconds. The real daemon
(scheduler, connector, matching, SQLite, the built-in sentiment model, rules,
apprise) polls it every 5 seconds; when the third negative review lands, a page is
sent to a local receiver and printed here, with patient data masked and links
defanged. Nothing leaves this machine.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from monitor.clock import UTC
from monitor.localserver import FeedServer, Receiver

ENTITY_ALIASES = '["林志明", "林醫師", "Dr. Lin Chih-Ming"]'

# (seconds after start, title, snippet, article URL)
TIMELINE = [
    (0, "林志明醫師 耐心解說 推薦", "<b>林志明</b>醫師很有耐心,把檢查結果解釋得很清楚,櫃台人員也很親切,非常推薦仁心診所。",
     "https://forum.example.tw/t/1001"),
    (0, "仁心診所將舉辦糖尿病衛教講座", "仁心診所<b>林志明</b>醫師將於本週六上午在社區活動中心舉辦糖尿病衛教講座,開放民眾報名。",
     "https://news.example.tw/a/2002"),
    (0, "林志明里長出席中秋晚會", "<b>林志明</b>里長昨晚出席社區中秋晚會,與居民同樂。",
     "https://news.example.tw/a/2003"),
    (12, "林志明醫師 態度 很差", "預約了還是等了兩個小時,<b>林志明</b>醫師看診不到三分鐘,態度很差,問問題也不回答,非常失望。",
     "https://forum.example.tw/t/1004"),
    (24, "仁心診所 亂收費 避雷", "在仁心診所被<b>林志明</b>醫師推銷自費療程,事前完全沒說明費用,結帳才發現被多收好幾千,大家要小心。",
     "https://reviews.example.tw/r/1005"),
    (36, "林志明 誤診 爛醫生", "<b>林志明</b>醫師誤診害我媽住院一週,病歷號碼 12345678,身分證 A123456789,有問題打 0912-345-678 找我。"
     "爛醫生!詳情 <a href='https://evil.example/login'>點此</a> [官方回應](https://evil.example/x)",
     "https://forum.example.tw/t/1006"),
]


def alerts_feed(entries: list[tuple], started: datetime) -> str:
    """A feed shaped like Google Alerts' Atom output."""
    items = []
    for n, (offset, title, snippet, url) in enumerate(entries, 1):
        when = (started + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
        link = f"https://www.google.com/url?rct=j&sa=t&url={url}&ct=ga&cd=CAIyHGRlbW8&usg=AOvVaw0demo{n}"
        items.append(
            f"<entry><id>tag:google.com,2013:googlealerts/feed:{9000 + n}</id>"
            f"<title type=\"html\">{escape(title)}</title><link href=\"{escape(link)}\"/>"
            f"<published>{when}</published><updated>{when}</updated>"
            f"<content type=\"html\">{escape(snippet)}</content><author><name/></author></entry>"
        )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:idx="urn:atom-extension:indexing"><id>tag:google.com,2005:reader/user/0000/state/com.google/alerts/1</id>'
        '<title>Google 快訊 - 林志明</title><link href="https://www.google.com/alerts/feeds/0000/1" rel="self"/>'
        f"<updated>{now}</updated>{''.join(reversed(items))}</feed>"
    )


def demo_config(feed_url: str, receiver_url: str, db: Path, every: str, port: int = 0,
                group_wait: str = "5s") -> str:
    endpoint = f'listen = "127.0.0.1:{port}"' if port else 'listen = ""'
    incidents = f'public_url = "http://127.0.0.1:{port}"' if port else ""
    return textwrap.dedent(f"""\
        # written by `repwatch demo`
        [storage]
        url = "sqlite:///{db}"

        [sentiment]
        model = "builtin"
        negative_threshold = 0.5

        [daemon]
        jitter = "0s"
        {endpoint}

        [incidents]
        response_window = "1h"
        {incidents}

        [[entities]]
        id = "dr-lin"
        name = "林志明醫師"
        aliases = {ENTITY_ALIASES}
        exclude = ["林志明里長"]

        [[entities]]
        id = "renxin-clinic"
        name = "仁心診所"
        kind = "clinic"

        [[sources]]
        id = "ga-dr-lin"
        type = "google_alerts"
        url = "{feed_url}"
        every = "{every}"

        [[routes]]
        id = "crisis-team"
        notify = ["{receiver_url}"]
        group_wait = "{group_wait}"

        [[rules]]
        id = "negative-burst"
        entities = ["*"]
        min_negative = 3
        window = "1h"
        route = "crisis-team"
        """)


def _say(start: float, text: str) -> None:
    print(f"[{time.monotonic() - start:5.1f}s] {text}", flush=True)


FEED_PATH = "/alerts/feeds/0000/1"
SOURCE_ID = "ga-dr-lin"


def run_demo(fast: bool = False, keep: bool = False) -> int:
    """The live part (the daemon pages on the third negative review, the page's link is
    acknowledged), then the fixture replay. ``fast``: a tenth of the timeline and shorter
    waits (for tests). Exit 0 when the page arrived."""
    tmp = Path(tempfile.mkdtemp(prefix="repwatch-demo-"))
    t0 = time.monotonic()
    print("repwatch demo: a local Google Alerts feed, the real daemon, the built-in sentiment model and a local")
    print("page receiver. Nothing leaves this machine. Press Ctrl-C to stop.\n")
    logging.getLogger("repwatch").setLevel(logging.WARNING)
    try:
        with FeedServer() as feed, Receiver() as receiver:
            ok, scorer = _live(feed, receiver, tmp, fast, t0)
            replay_tour(tmp, scorer, t0)
            print("\nNext: copy config/example.toml, point it at your feeds and accounts (README, Connectors).")
    finally:
        if keep:
            print(f"demo files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def _live(feed: FeedServer, receiver: Receiver, tmp: Path, fast: bool, t0: float) -> tuple[bool, object]:
    """The daemon on the growing feed until the page arrives; returns whether it did, and
    the loaded model (the replay reuses it)."""
    from monitor.app import App
    from monitor.config import load_config
    from monitor.daemon import Daemon

    started = datetime.now(UTC).replace(microsecond=0)
    shown = [e for e in TIMELINE if e[0] == 0]
    feed.set(FEED_PATH, alerts_feed(shown, started))
    cfg_path = tmp / "repwatch.toml"
    port = _free_port()
    os.environ.setdefault("REPWATCH_ACK_SECRET", secrets.token_hex(24))  # signs the page's ack link
    cfg_path.write_text(demo_config(feed.url(FEED_PATH), receiver.apprise_url, tmp / "demo.db", "1s" if fast else "5s",
                                    port, group_wait="1s" if fast else "5s"), encoding="utf-8")
    _say(t0, f"feed:     {feed.url(FEED_PATH)}")
    _say(t0, f"receiver: {receiver.apprise_url}")
    _say(t0, f"config:   {cfg_path}  (SQLite at {tmp / 'demo.db'})")
    _say(t0, "loading the built-in sentiment model (multilingual-e5-small + trained head) ...")
    app = App.from_config(load_config(cfg_path))
    daemon = Daemon(app, outbox_every=timedelta(seconds=1 if fast else 5))
    stop = threading.Event()
    runner = threading.Thread(target=daemon.run, kwargs={"install_signals": False, "until": stop}, daemon=True)
    runner.start()
    _say(t0, f"daemon started; the feed holds {len(shown)} entries:")
    for e in shown:
        _say(t0, f"  + {e[1]}")
    try:
        ok = _play_timeline(feed, receiver, app, shown, started, 0.1 if fast else 1.0, t0)
    finally:
        stop.set()
        runner.join(timeout=30)
    if not ok:
        _say(t0, "no page arrived in time - see the log lines above")
    _summary(app, len(feed.requests))
    return ok, app.scorer


def _play_timeline(feed: FeedServer, receiver: Receiver, app, shown: list, started: datetime, scale: float,
                   t0: float) -> bool:
    """Once the daemon has read the feed's history (a first poll never pages), add each
    later entry at its time; print the page when it arrives and acknowledge it."""
    deadline = time.monotonic() + 30
    while app.store.source_state(SOURCE_ID).last_success_at is None and time.monotonic() < deadline:
        time.sleep(0.1 * scale)
    pending = [e for e in TIMELINE if e[0] > 0]
    begin = time.monotonic()
    try:
        while time.monotonic() < begin + 120 * scale + 30:
            while pending and pending[0][0] <= (time.monotonic() - begin) / scale:
                e = pending.pop(0)
                shown.append(e)
                feed.set(FEED_PATH, alerts_feed(shown, started))
                _say(t0, f"feed gains a new entry: {e[1]}")
            if receiver.wait_for(1, 0.2):
                break
        else:
            return False
    except KeyboardInterrupt:
        return False
    page = receiver.received[0].payload
    _say(t0, "PAGE RECEIVED by the crisis team's receiver:\n")
    print("    " + "=" * 76)
    print("    " + str(page.get("title", "")))
    print("    " + "-" * 76)
    for line in str(page.get("message", "")).splitlines():
        print("    " + line)
    print("    " + "=" * 76 + "\n")
    _ack_by_link(t0, str(page.get("message", "")), app)
    return True


def _summary(app, polls: int) -> None:
    from monitor.render import safe_text

    print("What repwatch stored and how the model scored it (`repwatch mentions`):")
    try:
        for m in app.store.mentions(limit=20):
            neg = f"{m.negative_score:.2f}" if m.negative_score is not None else " -  "
            print(f"  {(m.label or 'unscored'):<9} P(neg)={neg}  {','.join(m.entities):<22} {safe_text(m.title, 40)}")
    finally:
        app.close()
    print(f"\nThe daemon polled the feed {polls} times (conditional GET: unchanged polls were 304s).")
    print("Note the borough chief 林志明里長 was excluded, patient data in the page is masked, and the")
    print("review's links were defanged.\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ack_by_link(t0: float, message: str, app) -> None:
    """Do what the on-call person does: open the page's link and acknowledge."""
    import urllib.request

    link = next((w for w in message.split() if "/ack/" in w), None)
    if link is None:
        _say(t0, "the page carries no ack link")
        return
    _say(t0, f"the on-call doctor opens the ack link and acknowledges: POST {link.split('/ack/')[0]}/ack/…")
    with urllib.request.urlopen(urllib.request.Request(link, data="by=值班醫師".encode())) as resp:
        resp.read()
    inc = app.store.incidents()[0]
    took = (inc.acked_at - inc.first_detected_at).total_seconds()
    met = "inside" if inc.acked_at <= inc.deadline else "after"
    _say(t0, f"incident #{inc.id}: {inc.status} by {inc.acked_by} via {inc.ack_via}, {took:.0f} s after the first "
             f"detection ({met} the golden hour); escalation stopped (`repwatch incidents` lists it)")


def replay_tour(tmp: Path, scorer, t0: float) -> None:
    """Every connector once, on its recorded payloads served on 127.0.0.1 (fixture replay),
    through matching, storage and scoring; then one source turned into an anti-bot wall
    to show the ops notice it produces."""
    from monitor.app import App
    from monitor.config import load_config
    from monitor.replay import ReplayFleet, fleet_config

    _say(t0, "fixture replay: every connector on recorded payloads (Google, Yelp, Facebook, Reddit, ...)")
    with ReplayFleet() as fleet, Receiver() as ops:
        cfg = tmp / "replay.toml"
        cfg.write_text(fleet_config(fleet, f"sqlite:///{tmp / 'replay.db'}", f"json://127.0.0.1:{ops.port}/crisis",
                                    f"json://127.0.0.1:{ops.port}/ops"), encoding="utf-8")
        app = App.from_config(load_config(cfg, env=fleet.env), scorer=scorer)
        try:
            fleet.servers["dcard"].override(403, b"<title>Just a moment...</title> cf-chl", "text/html")
            for source in app.config.sources:
                r = app.poll_source(source.id)
                note = f"{r.new} new mentions" if r.status == "ok" else f"{r.status}: {r.error}"
                print(f"    {source.type:<16} {note}")
            processed = app.process()
            negative = sum(1 for m in app.store.mentions(limit=500) if m.label == "negative")
            print(f"    scored {processed.scored} mentions, {negative} negative")
            for got in ops.received:
                if got.path == "/ops":
                    print(f"    OPS NOTICE: {got.payload.get('title')}")
        finally:
            app.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
