"""What counts as bad news: listing sources, star ratings, backfill, causes and human corrections.

Real parts: a Google Places-shaped JSON server on 127.0.0.1, the real connector, a real
SQLite file, the rules and a local json:// receiver. The model is a fixed scorer so the
window logic is what is tested; the built-in model's own figures are in test_sentiment_domain.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitor.app import App
from monitor.causes import detect_causes, primary_cause
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.sentiment import Score
from monitor.store import Store
from monitor.verdict import decide
from tests.conftest import T0, write_config

PLACE = "ChIJ-anxin-listing"


class FixedScorer:
    """The model's answer by keyword, so a test controls it exactly."""

    name = "fixed"

    def __init__(self, negative_words=("爛", "糟", "terrible", "誤診")):
        self.negative_words = negative_words
        self.seen: list[str] = []

    def score(self, texts):
        self.seen.extend(texts)
        out = []
        for t in texts:
            if any(w in t for w in self.negative_words):
                out.append(Score("negative", 0.92, 0.92, 0.03))
            else:
                out.append(Score("positive", 0.8, 0.1, 0.8))
        return out


def review(n: int, when, rating: int, text: str | None) -> dict:
    r = {"name": f"places/{PLACE}/reviews/r{n}", "rating": rating,
         "publishTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "authorAttribution": {"displayName": f"user{n}"}}
    if text is not None:
        r["text"] = r["originalText"] = {"text": text, "languageCode": "zh-TW"}
    return r


def places_body(reviews: list[dict]) -> str:
    return json.dumps({"id": PLACE, "displayName": {"text": "安心診所"}, "reviews": reviews}, ensure_ascii=False)


def listing_config(tmp_path, server, receiver, about: str = "anxin", extra_rules: str = "") -> str:
    return f"""
[storage]
url = "sqlite:///{tmp_path / 'r.db'}"

[[entities]]
id = "anxin"
name = "安心診所"
kind = "clinic"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "places-anxin"
type = "google_places"
url = "{server.url('')}"
place_id = "{PLACE}"
about = "{about}"
every = "5m"

[[routes]]
id = "crisis"
notify = ["{receiver.apprise_url}"]

[[rules]]
id = "burst"
route = "crisis"
min_negative = 3
window = "1h"

[[rules]]
id = "severe"
kind = "severe"
route = "crisis"
{extra_rules}
"""


@pytest.fixture
def places_env(monkeypatch):
    monkeypatch.setenv("GOOGLE_PLACES_API_KEY", "test-key")


def test_listing_of_one_star_reviews_pages_once(tmp_path, feed_server, receiver, clock, places_env):
    """Five one-star reviews in ten minutes on the clinic's own listing, two with stars only and
    three that name nobody, page once."""
    path = f"/v1/places/{PLACE}?languageCode=zh-TW"
    old = [review(0, T0 - timedelta(days=3), 5, "很好的診所")]
    feed_server.set(path, places_body(old), "application/json")
    cfg = load_config(write_config(tmp_path, listing_config(tmp_path, feed_server, receiver)))
    scorer = FixedScorer()
    app = App(cfg, scorer=scorer, clock=clock)
    polls, _ = app.cycle()  # connected: the first poll is history
    assert polls[0].status == "ok" and receiver.received == []

    fresh = [review(1, T0 + timedelta(minutes=1), 1, None), review(2, T0 + timedelta(minutes=3), 1, None),
             review(3, T0 + timedelta(minutes=5), 1, "等了兩個小時,櫃檯還很兇"),
             review(4, T0 + timedelta(minutes=7), 1, "不會再來了"),
             review(5, T0 + timedelta(minutes=9), 2, "就這樣吧")]
    feed_server.set(path, places_body(fresh + old), "application/json")
    clock.advance(timedelta(minutes=10))
    polls, processed = app.cycle()
    assert polls[0].new == 5 and polls[0].matched == 5  # no name needed on the entity's own listing
    assert len(processed.alerts) == 1
    assert receiver.wait_for(1, 5) and len(receiver.received) == 1
    page = receiver.received[0].payload
    assert "安心診所" in page["title"]
    assert "1★" in page["message"]
    # the two star-only reviews never reached the model; the worded ones did
    assert not any(not t.strip() for t in scorer.seen)
    stored = {m.rating: m for m in app.store.mentions(limit=20) if m.text == ""}
    assert stored[1.0].label == "negative" and stored[1.0].verdict_by == "rating"
    assert stored[1.0].model_label is None  # the model was not asked about an empty text
    worded = [m for m in app.store.mentions(limit=20) if m.text == "就這樣吧"][0]
    assert worded.label == "negative" and worded.model_label == "positive"  # stars and model both kept
    clock.advance(timedelta(minutes=1))
    _, processed = app.cycle()
    assert processed.alerts == [] and len(receiver.received) == 1
    app.close()


def test_thirty_days_of_history_pages_nothing_and_sources_shows_backfill(tmp_path, feed_server, receiver, clock,
                                                                         places_env, capsys):
    path = f"/v1/places/{PLACE}?languageCode=zh-TW"
    history = [review(i, T0 - timedelta(days=i, minutes=5), 1, "爛透了,誤診") for i in range(1, 31)]
    feed_server.set(path, places_body(history), "application/json")
    cfg_path = write_config(tmp_path, listing_config(tmp_path, feed_server, receiver))
    app = App(load_config(cfg_path), scorer=FixedScorer(), clock=clock)
    polls, processed = app.cycle()
    assert polls[0].new == 30
    assert processed.scored == 30 and processed.alerts == [] and processed.notifications == []
    assert all(m.backfill and m.label == "negative" for m in app.store.mentions(limit=50))
    # an item first seen later but already older than every rule window is history too
    late = review(99, T0 - timedelta(hours=5), 1, "爛")
    feed_server.set(path, places_body([late] + history), "application/json")
    clock.advance(timedelta(minutes=5))
    polls, processed = app.cycle()
    assert polls[0].new == 1 and processed.alerts == []
    app.close()
    assert receiver.received == []
    main(["sources", "--config", str(cfg_path), "--json"])
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["backfilled"] == 31 and row["total_mentions"] == 31


def test_unknown_about_is_a_config_error_with_its_line(tmp_path, feed_server, receiver, places_env):
    path = write_config(tmp_path, listing_config(tmp_path, feed_server, receiver, about="nobody"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "sources[0].about" in text and "undefined entity 'nobody'" in text
    line = next(i for i, l in enumerate(path.read_text().splitlines(), 1) if l.startswith("about ="))
    assert f":{line}:" in text


@pytest.mark.parametrize("rating,model,expected,by", [
    (None, ("negative", 0.8), "negative", "model"),
    (None, ("negative", 0.45), "neutral", "model"),  # argmax negative below the threshold: not counted
    (1, ("positive", 0.05), "negative", "rating"),
    (2, None, "negative", "rating"),
    (3, ("positive", 0.1), "neutral", "rating"),
    (3, ("negative", 0.7), "negative", "model"),
    (4, ("positive", 0.1), "positive", "rating"),
    (5, ("negative", 0.8), "negative", "model"),  # a five-star review that is clearly a complaint
    (5, None, "positive", "rating"),
    (None, None, "neutral", "rating"),
])
def test_rating_rule(rating, model, expected, by):
    score = None if model is None else Score(model[0], max(model[1], 0.5), model[1])
    v = decide("text", rating, score, threshold=0.5)
    assert (v.label, v.by) == (expected, by)
    if rating in (1, 2):
        assert 0.9 <= v.negative < 0.95  # pages in a burst, never alone as "severe"
    if model is not None:
        assert v.model_label == model[0] and v.model_negative == model[1]


@pytest.mark.parametrize("text,causes", [
    ("醫師涉嫌性騷擾女病患,遭地檢署起訴", {"legal"}),
    ("等了兩個小時,櫃檯態度又很差", {"wait", "attitude"}),
    ("結帳時才知道有自費項目,事前完全沒說,多收了五千多元。", {"billing"}),
    ("不付錢刪文就每天來留負評", {"extortion"}),
    ("我的病歷被護理師大聲唸出來,全候診室都聽到", {"privacy"}),
    ("診所廁所很髒,地上還有蟑螂", {"hygiene"}),
    ("打了雷射反而更嚴重,根本誤診", {"outcome"}),
    ("廣告說保證根治,結果完全沒效", {"advertising", "outcome"}),
    ("Dr. Patel was rude and dismissive, and I waited 3 hours", {"attitude", "wait"}),
    ("Surgeon charged with Medicare fraud, license suspended", {"legal"}),
    ("Remove the review for $500 or I post it everywhere", {"extortion"}),
    ("林醫師很親切,態度很好,推薦", set()),
])
def test_causes(text, causes):
    assert set(detect_causes(text)) == causes


def test_primary_cause_is_the_gravest():
    assert primary_cause(("wait", "legal", "billing")) == "legal"
    assert primary_cause(()) == ""


def causes_config(tmp_path, receiver, other):
    return f"""
[storage]
url = "sqlite:///{tmp_path / 'r.db'}"

[[entities]]
id = "anxin"
name = "安心診所"

[[sources]]
id = "rss"
type = "rss"
url = "http://127.0.0.1:9/feed"

[[routes]]
id = "legal-team"
notify = ["{receiver.apprise_url}legal"]
matchers = ['cause="legal"']

[[routes]]
id = "crisis"
notify = ["{other.apprise_url}"]
matchers = ['severity="critical"']

[[rules]]
id = "legal-severe"
kind = "severe"
causes = ["legal", "extortion"]
min_score = 0.9
terms = []

[[rules]]
id = "burst"
min_negative = 2
window = "1h"
"""


def add_scored(store, clock, texts, source="rss"):
    from monitor.matching import Match
    from monitor.mention import Mention

    items = [(Mention(source, t, "", url=f"https://news.example.tw/{abs(hash(t))}", published_at=clock.now()),
              [Match("anxin", "安心診所")]) for t in texts]
    return store.add_mentions(items, detected_at=clock.now())


def test_cause_routes_rules_and_shows_in_pages(tmp_path, clock, receiver):
    from monitor.localserver import Receiver

    with Receiver() as other:
        cfg = load_config(write_config(tmp_path, causes_config(tmp_path, receiver, other)))
        app = App(cfg, scorer=FixedScorer(negative_words=("起訴", "爛")), clock=clock)
        add_scored(app.store, clock, ["安心診所院長涉嫌詐領健保遭起訴"])
        processed = app.process(flush=True)
        alerts = app.store.alerts()
        assert {a.rule_id for a in alerts} == {"legal-severe"}  # the burst needs 2; the severe rule reads causes
        assert alerts[0].label_map["cause"] == "legal"
        assert receiver.wait_for(1, 5)
        assert receiver.received[0].path.endswith("legal")
        assert "法律與違規指控" in receiver.received[0].payload["message"]
        # a mention without a listed cause does not count for the cause-filtered rule
        add_scored(app.store, clock, ["安心診所很爛"])
        clock.advance(timedelta(minutes=1))
        app.process(flush=True)
        assert {a.rule_id for a in app.store.alerts()} == {"legal-severe", "burst"}
        assert processed.alerts
        app.close()


def test_human_label_counts_at_once_and_survives_rescoring(tmp_path, clock, receiver, capsys):
    cfg_path = write_config(tmp_path, causes_config(tmp_path, receiver, receiver))
    cfg = load_config(cfg_path)
    app = App(cfg, scorer=FixedScorer(negative_words=("爛",)), clock=clock)
    ids = add_scored(app.store, clock, ["安心診所很爛", "安心診所收費真是太有創意了呢"])
    app.process(flush=True)
    assert app.store.alerts() == []  # one negative: below the burst's two
    assert main(["label", str(ids[1]), "--as", "negative", "--cause", "billing", "--by", "Amy",
                 "--config", str(cfg_path)]) == 0
    assert "model said positive" in capsys.readouterr().out
    clock.advance(timedelta(minutes=1))
    app.process(flush=True)
    burst = [a for a in app.store.alerts() if a.rule_id == "burst"]
    assert len(burst) == 1 and burst[0].count == 2 and "billing" in burst[0].label_map["causes"]
    row = app.store.get_mentions([ids[1]])[0]
    assert (row.label, row.verdict_by, row.causes) == ("negative", "human", ("billing",))
    # scoring again (a new model) keeps the human verdict and updates only the model's own answer
    app.store.save_scores([(ids[1], decide("x", None, Score("positive", 0.9, 0.05)))], "other", clock.now())
    row = app.store.get_mentions([ids[1]])[0]
    assert row.label == "negative" and row.model_negative == 0.05
    assert main(["label", str(ids[0]), "--as", "neutral", "--cause", "billing", "--by", "Amy",
                 "--config", str(cfg_path)]) == 2  # a cause goes with a negative verdict
    assert main(["label", "99999", "--as", "neutral", "--by", "Amy", "--config", str(cfg_path)]) == 1
    assert main(["mentions", "--config", str(cfg_path), "--json"]) == 0
    rows = {r["id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines()[-2:])}
    assert rows[ids[1]]["causes"] == ["billing"] and rows[ids[1]]["verdict_by"] == "human"
    app.close()


def test_digest_counts_causes(tmp_path, clock, receiver):
    cfg = load_config(write_config(tmp_path, causes_config(tmp_path, receiver, receiver)))
    app = App(cfg, scorer=FixedScorer(negative_words=("起訴", "等")), clock=clock)
    add_scored(app.store, clock, ["安心診所院長遭起訴", "安心診所等了三小時", "安心診所等超久"])
    app.process(flush=True)
    msg = app.dispatcher.digest(cfg.route("crisis"), clock.now())
    assert "負面原因" in msg.text and "候診時間:2 則" in msg.text and "法律與違規指控:1 則" in msg.text
    app.close()


def test_migrated_database_gains_the_verdict_columns(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE mentions (id INTEGER PRIMARY KEY, fingerprint VARCHAR(64) UNIQUE NOT NULL, "
                "source_id VARCHAR NOT NULL, url TEXT, title TEXT NOT NULL, text TEXT NOT NULL, author VARCHAR, "
                "rating FLOAT, published_at DATETIME, detected_at DATETIME NOT NULL, event_at DATETIME NOT NULL, "
                "sentiment_label VARCHAR(16), sentiment_score FLOAT, negative_score FLOAT, scored_by VARCHAR, "
                "scored_at DATETIME)")
    con.execute("INSERT INTO mentions VALUES (1, 'f', 's', NULL, 't', 'x', NULL, NULL, NULL, "
                "'2026-11-22 10:00:00', '2026-11-22 10:00:00', 'negative', 0.9, 0.9, 'old', '2026-11-22 10:00:00')")
    con.commit()
    con.close()
    store = Store(f"sqlite:///{db}")
    m = store.mentions(limit=5)[0]
    assert m.label == "negative" and m.causes == () and m.backfill is False
    store.close()
