"""Attack detection (issue 18, item 3): the ``attack`` rule on a real SQLite file, through the
real pipeline (poll or store, scoring, rules, routing, the page to a local json:// receiver),
with an injected clock and no sleeping."""
from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import pytest

from monitor.alerting.attack import evaluate_attack
from monitor.alerting.facts import AttackFacts, parse_facts
from monitor.app import App
from monitor.config import load_config
from monitor.defence.attack import jaccard, normal_form, poisson_tail, shingles
from monitor.errors import ConfigError
from monitor.matching import Match
from monitor.mention import Mention
from monitor.store import AlertRow
from tests.conftest import T0, FakeScorer, connected_before, write_config

CAMPAIGN = "林志明醫師根本是庸醫,看診三分鐘就趕人,還亂開自費藥,我朋友吃了之後過敏住院,大家千萬不要去這家診所!"
VARIANTS = [  # the same text with the small edits a copy-paste campaign makes
    CAMPAIGN,
    "林志明醫師根本是庸醫!!看診3分鐘就趕人,還亂開自費藥😡 我朋友吃了之後過敏住院,大家千萬別去這家診所 電話0912-345-678",
    "林志明醫師根本就是庸醫,看診三分鐘就趕人、還亂開自費的藥,我朋友吃了以後過敏住院。大家千萬不要去這家診所!!!",
]


def config_text(tmp_path, receiver, sources: str, rule: str = "") -> str:
    return f"""
[storage]
url = "sqlite:///{tmp_path / 'rw.db'}"

[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明"]
{sources}
[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/crisis"]

[[routes]]
id = "pr-legal"
notify = ["json://127.0.0.1:{receiver.port}/legal"]
group_wait = "0s"
language = "en"

[[rules]]
id = "attack"
kind = "attack"
route = "pr-legal"
window = "24h"
baseline = "28d"
{rule}
"""


def rss(items: list[tuple[str, str, str, str]], at) -> str:
    """RSS 2.0 of (guid, author, text, link), all published at ``at``."""
    body = "".join(f"<item><guid isPermaLink=\"false\">{g}</guid><author>{escape(a)}</author>"
                   f"<title>林志明醫師</title><description>{escape(t)}</description><link>{escape(u)}</link>"
                   f"<pubDate>{format_datetime(at)}</pubDate></item>" for g, a, t, u in items)
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>{body}</channel></rss>'


def app_for(tmp_path, receiver, clock, sources: str = "", rule: str = "", scorer=None) -> App:
    cfg = load_config(write_config(tmp_path, config_text(tmp_path, receiver, sources, rule)))
    connected_before(cfg, clock.now() - timedelta(hours=1))  # what the polls bring is live, not history
    return App(cfg, scorer=scorer or FakeScorer({"庸醫": 0.97, "Terrible": 0.95, "scam": 0.95}), clock=clock)


def add(app, source, text, author, rating=None, at=None, n=[0]):
    n[0] += 1
    m = Mention(source, "", text, url=f"https://{source}.example/{n[0]}", author=author, rating=rating,
                published_at=at or app.clock.now())
    return app.store.add_mentions([(m, [Match("dr-lin", "林志明")])], at or app.clock.now())[0]


def attack_alerts(app) -> list[AlertRow]:
    return [a for a in app.store.alerts() if a.rule_id == "attack"]


def test_a_near_duplicate_campaign_on_three_sources_pages_once_with_its_evidence(tmp_path, feed_server, receiver,
                                                                                clock):
    at = clock.now() - timedelta(minutes=20)
    ordinary = [("o1", "amy", "林志明醫師很細心,解釋病情很清楚,謝謝醫師。", "https://a.example/o1"),
                ("o2", "ken", "候診等了一個小時,有點久,但醫師人不錯。", "https://a.example/o2")]
    for i, name in enumerate("abc"):
        feed_server.set(f"/{name}", rss([(f"{name}1", f"user-{name}", VARIANTS[i], f"https://{name}.example/1")]
                                        + (ordinary if name == "a" else []), at))
    sources = "".join(f'\n[[sources]]\nid = "{n}"\ntype = "rss"\nurl = "{feed_server.url("/" + n)}"\n' for n in "abc")
    app = app_for(tmp_path, receiver, clock, sources)
    try:
        _, report = app.cycle()
        assert report.sent == 1
        assert receiver.wait_for(1, timeout=10)
        page = receiver.received[0]
        assert page.path == "/legal"
        body = page.payload["message"]
        assert "possible attack: near-duplicate texts" in page.payload["title"]
        ids = sorted(m.id for m in app.store.mentions() if m.url and m.url.endswith("/1"))
        assert len(ids) == 3
        assert f"ids {', '.join(f'#{i}' for i in ids)}; sources a, b, c; accounts user-a, user-b, user-c" in body
        assert "similarity" in body and "0912-345-678" not in body and "[phone]" in body  # masked excerpt
        [alert] = attack_alerts(app)
        facts = parse_facts(alert.detail, "attack")
        assert isinstance(facts, AttackFacts) and facts.signals == ("near-duplicate",)
        assert facts.clusters[0].mention_ids == tuple(ids) and facts.clusters[0].min_similarity >= 0.6
        clock.advance(timedelta(minutes=30))
        app.cycle()  # the same campaign, nothing new: no second page
        assert len(attack_alerts(app)) == 1 and len(receiver.received) == 1
    finally:
        app.close()


def test_a_rating_bomb_from_new_accounts_pages_and_a_listing_used_to_low_ratings_does_not(tmp_path, receiver,
                                                                                         clock):
    app = app_for(tmp_path, receiver, clock)
    try:
        for day in range(1, 28):  # four weeks of ordinary reviews: regulars, mostly 4-5 stars
            at = clock.now() - timedelta(days=day, hours=3)
            add(app, "google", f"第{day}天 看診順利", f"regular{day % 9}", 5, at)
            add(app, "google", f"第{day}天 還可以", f"regular{day % 7}", 4, at)
            if day % 9 == 0:
                add(app, "google", f"第{day}天 等很久", f"regular{day % 5}", 2, at)
        for i in range(7):  # today: seven one-star ratings, five from accounts never seen before
            who = f"new_account_{i}" if i < 5 else f"regular{i}"
            add(app, "google", "", who, 1, clock.now() - timedelta(hours=i + 1))
        report = app.process(flush=True)
        assert report.sent == 1 and receiver.wait_for(1, timeout=10)
        [alert] = attack_alerts(app)
        facts = parse_facts(alert.detail, "attack")
        assert facts.signals == ("rating-bomb",) and facts.bomb.source == "google"
        assert facts.bomb.observed == 7 and facts.bomb.new_accounts == 5 and facts.bomb.baseline_count == 3
        assert facts.bomb.expected == pytest.approx(4 / 28, abs=0.01) and facts.bomb.p_value < 1e-4
        body = receiver.received[0].payload["message"]
        assert "Low ratings on google: 7 (≤ 2★) in 1d, 5 of them from accounts first seen in it" in body
        assert "the 28d baseline (3 low ratings) predicts 0.14" in body
    finally:
        app.close()

    other = tmp_path / "other"
    other.mkdir()
    app = app_for(other, receiver, clock)
    try:  # the same seven low ratings where four a day are usual: no attack
        for day in range(1, 28):
            for i in range(4):
                add(app, "google", "", f"someone{day}_{i}", 1 + i % 2, clock.now() - timedelta(days=day, hours=i))
        for i in range(7):
            add(app, "google", "", f"new_account_{i}", 1, clock.now() - timedelta(hours=i + 1))
        app.process(flush=True)
        assert attack_alerts(app) == []
    finally:
        app.close()


def test_ordinary_similar_praise_is_not_an_attack(tmp_path, receiver, clock):
    app = app_for(tmp_path, receiver, clock)
    praise = ["謝謝醫師,很專業也很細心,推薦給大家!", "謝謝醫師!很專業很細心,推薦給大家", "謝謝醫師 很專業 也很細心 推薦給大家~",
              "Thank you doctor, very professional and caring, highly recommend!",
              "Thank you doctor! Very professional and caring. Highly recommend."]
    try:
        for i in range(30):  # thirty patients on three sites saying much the same kind thing
            add(app, ("google", "facebook", "ptt")[i % 3], praise[i % len(praise)], f"patient{i}", 5,
                clock.now() - timedelta(minutes=10 * i))
        for i in range(6):  # and the one who always says 謝謝醫師 everywhere
            add(app, ("google", "facebook", "ptt")[i % 3], "謝謝醫師", "grateful_mom", 5)
        app.process(flush=True)
        assert attack_alerts(app) == [] and receiver.received == []
    finally:
        app.close()


def test_one_account_on_several_platforms_is_an_attack_and_anonymous_is_not(tmp_path, receiver, clock):
    app = app_for(tmp_path, receiver, clock)
    try:
        texts = {"google": "Terrible doctor, waited three hours and got yelled at.",
                 "facebook": "This clinic is a scam, they overcharge for everything.",
                 "ptt": "林志明 庸醫 不要去"}
        ids = [add(app, src, text, "@Angry Bob", None, clock.now() - timedelta(hours=2 + i))
               for i, (src, text) in enumerate(texts.items())]
        for i, src in enumerate(texts):  # anonymous reviews on the same three platforms
            add(app, src, f"Terrible wait number {i}, a scam", "Anonymous", None, clock.now() - timedelta(hours=1))
        app.process(flush=True)
        [alert] = attack_alerts(app)
        facts = parse_facts(alert.detail, "attack")
        assert facts.signals == ("cross-posting",)
        assert [(x.author, x.sources, x.mention_ids) for x in facts.cross_posts] == [
            ("@Angry Bob", ("facebook", "google", "ptt"), tuple(sorted(ids)))]
        assert receiver.wait_for(1, timeout=10)
        assert "Account ＠Angry Bob posted on 3 sources: facebook, google, ptt" in receiver.received[0].payload["message"]
    finally:
        app.close()


def test_near_duplicate_detection_works_on_chinese_without_segmentation():
    a, b = (shingles(normal_form(v)) for v in VARIANTS[:2])
    assert normal_form("謝謝 醫師!! 😀 Very GOOD") == "谢谢医师very good"
    assert jaccard(a, b) >= 0.6
    assert jaccard(a, shingles(normal_form("林志明醫師很細心,解釋病情很清楚,謝謝醫師,推薦大家來看診。"))) < 0.2
    assert poisson_tail(0, 3.0) == 1.0 and poisson_tail(1, 2.0) == pytest.approx(0.8646647, rel=1e-6)
    assert poisson_tail(40, 1.0) < 1e-40  # the tail, summed upward, never 1 - 1 = 0 by cancellation


def test_evaluate_attack_names_each_signal_it_found(tmp_path, receiver, clock):
    from monitor.store import StoredMention

    rule = next(r for r in app_for(tmp_path, receiver, clock).config.rules if r.kind == "attack")

    def m(i, src, text, author, rating=None):
        return StoredMention(i, src, "", text, None, T0, T0, None, 0.9, rating=rating, author=author)

    window = [m(i + 1, s, VARIANTS[i], f"u{i}") for i, s in enumerate(("a", "b", "c"))]
    assert evaluate_attack(rule, window, {}, set(), 0.5).signals == ("near-duplicate",)
    assert evaluate_attack(rule, window[:2], {}, set(), 0.5) is None  # two are not a cluster of three
    same = [m(i + 1, "a", VARIANTS[i], "u") for i in range(3)]
    assert evaluate_attack(rule, same, {}, set(), 0.5) is None  # one account re-posting on one site
    posts = [m(i + 1, s, f"complaint number {i}", "Amy", 1) for i, s in enumerate(("a", "b", "c"))]
    assert evaluate_attack(rule, posts, {}, set(), 0.5).signals == ("cross-posting",)
    assert evaluate_attack(rule, posts, {}, {"Amy"}, 0.5) is None  # a regular of the listing (or her namesake)
    bad_day = [m(i + 1, s, "", f"p{i}", 1) for i, s in enumerate(("a", "b", "c") * 3)]  # nine, three per site
    assert evaluate_attack(rule, bad_day, {"a": 3, "b": 3, "c": 3}, set(), 0.5) is None
    bomb = [m(i + 1, "a", "", f"p{i}", 1) for i in range(9)]  # the same nine on one site
    assert evaluate_attack(rule, bomb, {"a": 3, "b": 3, "c": 3}, set(), 0.5).bomb.source == "a"


@pytest.mark.parametrize("line,message", [
    ("similarity = 1.5", "similarity: must be between 0.0 and 1.0, got 1.5"),
    ('signals = ["copy"]', "signals: must name some of near-duplicate, rating-bomb, cross-posting, got ['copy']"),
    ('baseline = "12h"', "baseline: must be longer than window"),
    ("min_cluster = 1", "min_cluster: must be between 2 and 1000, got 1"),
])
def test_attack_options_are_checked_with_file_and_line(tmp_path, receiver, line, message):
    text = config_text(tmp_path, receiver, "", line).replace('baseline = "28d"\n', "" if "baseline" in line else
                                                                'baseline = "28d"\n')
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    problems = [str(p) for p in exc.value.problems]
    lineno = text.splitlines().index(line) + 1
    assert any(p.startswith(f"{path}:{lineno}: rules[0].") and message in p for p in problems), problems


def test_the_attack_reads_take_the_window_and_the_baseline_on_both_engines(store, clock):
    now = clock.now()

    def put(text, author, rating, ago, backfill=False, entity="dr-lin"):
        m = Mention("google", "", text, url=f"https://g.example/{text}", author=author, rating=rating,
                    published_at=now - ago)
        return store.add_mentions([(m, [Match(entity, "x")])], now - ago, backfill_all=backfill)[0]

    inside = put("in-window", "amy", 1, timedelta(hours=2))
    put("history", "amy", 2, timedelta(days=3), backfill=True)
    put("old-five", "ken", 5, timedelta(days=4))
    put("other", "bob", 1, timedelta(hours=1), entity="renxin")
    put("first-poll", "zed", 1, timedelta(hours=3), backfill=True)  # history, never in a window
    window = store.window_mentions(["dr-lin"], now - timedelta(days=1), now)
    assert [m.id for m in window["dr-lin"]] == [inside] and window["dr-lin"][0].author == "amy"
    assert store.low_rating_counts(["dr-lin", "renxin"], now - timedelta(days=28), now - timedelta(days=1),
                                   2.0) == {"dr-lin": {"google": 1}}
    assert store.known_authors(["dr-lin"], now - timedelta(days=28), now - timedelta(days=1),
                               ["amy", "bob", "ken"]) == {"dr-lin": {"amy", "ken"}}
