"""End to end: a local feed server, the real connector, matching, a real SQLite file,
the built-in model, rules, and apprise posting to a local json:// receiver."""
import json
from datetime import timedelta

import pytest

from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.demo import alerts_feed
from monitor.store import Store
from tests.conftest import T0, connected_before, write_config

NEGATIVE = [
    (0, "林志明醫師 態度很差", "預約了還是等了兩個小時,林志明醫師看診不到三分鐘,態度很差,問問題也不回答,非常失望。",
     "https://forum.example.tw/t/1"),
    (0, "仁心診所 亂收費", "被林志明醫師推銷自費療程,事前完全沒說明費用,結帳才發現被多收好幾千,大家要小心。",
     "https://forum.example.tw/t/2"),
    (0, "林志明 誤診 爛醫生", "林志明醫師誤診害我媽住院一週,身分證 A123456789,電話 0912-345-678,爛醫生!"
     "<a href='https://evil.example/login'>點此</a>", "https://forum.example.tw/t/3"),
]
KIND = [(0, "林志明醫師 推薦", "林志明醫師很有耐心,解釋得很清楚,非常推薦。", "https://forum.example.tw/t/4")]


def config_text(db, feed_url, receiver_url, extra=""):
    return f"""
[storage]
url = "sqlite:///{db}"

[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明"]
exclude = ["林志明里長"]

[[sources]]
id = "ga-dr-lin"
type = "google_alerts"
url = "{feed_url}"
every = "5m"
{extra}
[[routes]]
id = "crisis-team"
notify = ["{receiver_url}"]

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"
route = "crisis-team"
"""


@pytest.mark.model
def test_poll_pages_exactly_once(tmp_path, feed_server, receiver, capsys):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", alerts_feed(KIND, now - timedelta(minutes=30)))
    cfg = write_config(tmp_path, config_text(tmp_path / "r.db", feed_server.url("/feed"), receiver.apprise_url))
    assert main(["poll", "--config", str(cfg)]) == 0  # the source's first poll: history, stored, never paged
    feed_server.set("/feed", alerts_feed(KIND + NEGATIVE, now - timedelta(minutes=10)))

    assert main(["poll", "--config", str(cfg)]) == 0
    assert receiver.wait_for(1, timeout=10)
    page = receiver.received[0].payload
    assert "林志明醫師" in page["title"] and "3" in page["title"]
    body = page["message"]
    assert "A123456789" not in body and "0912-345-678" not in body and "[ID]" in body and "[phone]" in body
    assert "<a" not in body and "https://evil.example" not in body
    assert "https://forum.example.tw/t/1" in body

    assert main(["poll", "--config", str(cfg)]) == 0  # 304 from the server, nothing new
    assert main(["poll", "--config", str(cfg)]) == 0
    assert not receiver.wait_for(2, timeout=1)
    assert len(receiver.received) == 1

    out = capsys.readouterr().out
    assert "not_modified" in out
    assert main(["mentions", "--config", str(cfg), "--json"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    labels = {r["url"]: r["label"] for r in rows}
    assert labels["https://forum.example.tw/t/4"] == "positive"
    assert all(labels[f"https://forum.example.tw/t/{i}"] == "negative" for i in (1, 2, 3))
    assert all("A123456789" not in r["text"] for r in rows)


@pytest.mark.model
def test_a_broken_source_never_stops_the_others(tmp_path, feed_server, receiver, builtin_scorer):
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", alerts_feed(NEGATIVE, now - timedelta(minutes=5)))
    feed_server.set("/html", "<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
    feed_server.set("/boom", "oops", "text/plain", status=500)
    feed_server.set("/huge", "x" * 3_000_000, "application/xml")
    extra = "".join(f"""
[[sources]]
id = "{name}"
type = "rss"
url = "{feed_server.url('/' + name)}"
max_bytes = 1000000
""" for name in ("html", "boom", "huge"))
    cfg = load_config(write_config(tmp_path, config_text(tmp_path / "r.db", feed_server.url("/feed"),
                                                          receiver.apprise_url, extra)))
    from connectors.http import HttpPolicy

    connected_before(cfg, now - timedelta(hours=1))
    app = App(cfg, scorer=builtin_scorer, policy=HttpPolicy(attempts=2, backoff=0, sleep=lambda s: None))
    polls, processed = app.cycle()
    status = {p.source_id: (p.status, p.error) for p in polls}
    assert status["ga-dr-lin"][0] == "ok"
    assert "HTML page" in status["html"][1]
    assert "HTTP 500" in status["boom"][1]
    assert "exceeds max_bytes" in status["huge"][1]
    assert processed.alerts and processed.sent == 1
    states = app.store.source_states()
    assert states["boom"].status == "failing" and states["boom"].consecutive_failures == 1
    assert states["ga-dr-lin"].status == "ok"
    app.close()


@pytest.mark.model
def test_restart_never_repeats_a_page_and_failed_delivery_is_retried(tmp_path, feed_server, receiver, builtin_scorer,
                                                                    clock):
    feed_server.set("/feed", alerts_feed(NEGATIVE, T0 - timedelta(minutes=5)))
    cfg = load_config(write_config(tmp_path, config_text(tmp_path / "r.db", feed_server.url("/feed"),
                                                          receiver.apprise_url)))
    receiver.fail_with = 503
    connected_before(cfg, T0 - timedelta(hours=1))
    app = App(cfg, scorer=builtin_scorer, clock=clock)
    _, processed = app.cycle()
    assert len(processed.alerts) == 1 and processed.failed == 1
    deliveries = app.store.deliveries()
    assert deliveries[0].status == "retrying" and "503" in (deliveries[0].last_error or "")
    app.close()

    receiver.fail_with = None
    app = App(cfg, scorer=builtin_scorer, clock=clock)  # "restart"
    clock.advance(timedelta(seconds=10))
    assert app.process().sent == 0  # backoff: not due yet
    clock.advance(timedelta(seconds=30))
    processed = app.process()
    assert processed.sent == 1 and processed.alerts == []
    assert receiver.wait_for(1, 5) and len(receiver.received) == 1
    clock.advance(timedelta(minutes=5))
    _, processed = app.cycle()
    assert processed.alerts == [] and processed.sent == 0
    app.close()
    assert Store(cfg.storage.url).deliveries()[0].status == "sent"
