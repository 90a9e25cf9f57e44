"""Burst rules over a real store, with an injected clock (no sleeping)."""
from datetime import timedelta

from monitor.config import Rule
from monitor.matching import Match
from monitor.mention import Mention
from monitor.alerting.rules import evaluate_burst
from monitor.store import AlertRow

RULE = Rule(id="burst", route="crisis", min_negative=3, window=timedelta(hours=1))


def add_negative(store, clock, n, published_offset=timedelta(0)):
    ids = store.add_mentions([(Mention("ga", "林志明", f"差評 {n}", url=f"https://f.example/{n}",
                                       published_at=clock.now() - published_offset), [Match("dr-lin", "林志明")])],
                             clock.now())
    store.save_scores([(ids[0], "negative", 0.9, 0.9)], "test", clock.now())
    return ids[0]


def decide(store, clock):
    now = clock.now()
    negatives = store.negative_mentions("dr-lin", now - RULE.window, now, 0.5)
    return evaluate_burst(RULE, negatives, store.last_alert("burst", "dr-lin"), now)


def fire(store, clock, d):
    store.add(AlertRow(rule_id="burst", entity_id="dr-lin", fired_at=clock.now(), window_start=clock.now() - RULE.window,
                       count=len(d.mentions), mention_ids=str(sorted(m.id for m in d.mentions))))


def test_window_edges(store, clock):
    add_negative(store, clock, 1, published_offset=timedelta(minutes=60))  # exactly at the edge: outside (since, now]
    add_negative(store, clock, 2, published_offset=timedelta(minutes=59, seconds=59))
    add_negative(store, clock, 3)
    d = decide(store, clock)
    assert not d.page and d.reason == "2 negative < 3"
    add_negative(store, clock, 4)
    assert decide(store, clock).page


def test_same_burst_is_not_paged_twice_until_it_grows(store, clock):
    for n in range(3):
        add_negative(store, clock, n)
    d = decide(store, clock)
    assert d.page and d.first and d.new == 3
    fire(store, clock, d)
    clock.advance(timedelta(minutes=10))
    assert decide(store, clock).reason == "already alerted for this burst"
    add_negative(store, clock, 99)
    d = decide(store, clock)
    assert d.page and not d.first and d.new == 1 and len(d.mentions) == 4


def test_burst_ages_out_and_can_page_again(store, clock):
    for n in range(3):
        add_negative(store, clock, n)
    fire(store, clock, decide(store, clock))
    clock.advance(timedelta(minutes=61))
    assert not decide(store, clock).page  # the old mentions left the window
    for n in range(3, 6):
        add_negative(store, clock, n)
    d = decide(store, clock)
    assert d.page and d.first
