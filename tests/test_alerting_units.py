"""Unit tests of the alerting parts, each alone: routing (a pure function), silences,
inhibition, quiet hours and group timing, the spike and severe rules, typed facts; then a
source-health alert through the dispatcher (routed, silenced, inhibited like any alert)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerting.dispatch import Dispatcher
from monitor.alerting.facts import (BurstFacts, FactsError, SevereFacts, SourceHealthFacts, SpikeFacts, dump_facts,
                                    parse_facts)
from monitor.alerting.inhibition import inhibitor
from monitor.alerting.notices import health_alert, raise_notices
from monitor.alerting.routing import group_key, routes_for
from monitor.alerting.rules import evaluate_severe, evaluate_spike
from monitor.alerting.silences import SilenceError, checked_matchers, silenced_by
from monitor.alerting.status import AlertStatus, NoteKind
from monitor.alerting.timing import group_due, quiet_until
from monitor.config import DEFAULT_INHIBIT, Inhibit, Route, Rule, load_config
from monitor.health import Health, record_fetch
from monitor.labels import parse_matcher
from monitor.mention import FetchResult
from monitor.store import AlertRow, GroupRow, SilenceRow, Store, StoredMention
from tests.conftest import T0, write_config

UTC = timezone.utc


def route(rid: str, *matchers: str, **kw) -> Route:
    return Route(id=rid, notify=(), notify_template=(), matchers=tuple(parse_matcher(m) for m in matchers), **kw)


def alert(aid: int, **labels) -> AlertRow:
    return AlertRow(id=aid, rule_id="r", entity_id=labels.get("entity", ""), fired_at=T0, window_start=T0,
                    labels=json.dumps(labels))


def mention(mid: int, text: str, neg: float) -> StoredMention:
    return StoredMention(mid, "ptt", "", text, None, T0, T0, "negative" if neg >= 0.5 else "neutral", neg)


# --------------------------------------------------------------------------- routing


ROUTES = [route("legal", 'cause="legal"', continue_=True), route("crisis", 'severity="critical"'),
          route("watch", 'severity=~"warning|critical"'), route("ops")]


def test_a_named_route_takes_the_alert_alone_and_a_missing_one_takes_nothing():
    assert [r.id for r in routes_for({"route": "ops", "severity": "critical"}, ROUTES)] == ["ops"]
    assert routes_for({"route": "gone", "severity": "critical"}, ROUTES) == []


def test_first_match_wins_unless_it_continues():
    assert [r.id for r in routes_for({"severity": "critical"}, ROUTES)] == ["crisis"]
    assert [r.id for r in routes_for({"severity": "critical", "cause": "legal"}, ROUTES)] == ["legal", "crisis"]
    assert [r.id for r in routes_for({"severity": "warning"}, ROUTES)] == ["watch"]


def test_a_route_without_matchers_never_takes_an_alert_that_does_not_name_it():
    assert routes_for({"severity": "info"}, ROUTES) == []


def test_group_key_is_the_group_by_labels_in_a_stable_order():
    r = route("crisis", group_by=("source", "entity"))
    key, values = group_key(r, {"entity": "dr-lin", "rule": "burst"})
    assert values == {"source": "", "entity": "dr-lin"}
    assert key == group_key(r, {"rule": "other", "entity": "dr-lin"})[0] == '{"entity": "dr-lin", "source": ""}'


# --------------------------------------------------------------------------- silences


def silence(sid: int, *matchers: str) -> SilenceRow:
    return SilenceRow(id=sid, matchers=json.dumps(list(matchers)), starts_at=T0, ends_at=T0 + timedelta(hours=1))


def test_a_silence_matches_when_all_its_matchers_do_route_included():
    rows = [silence(1, 'entity="dr-lin"', 'route="watch"'), silence(2, 'kind=~"burst|spike"')]
    assert silenced_by(rows, {"entity": "dr-lin", "kind": "severe", "route": "crisis"}) is None
    assert silenced_by(rows, {"entity": "dr-lin", "kind": "severe", "route": "watch"}).id == 1
    assert silenced_by(rows, {"entity": "x", "kind": "spike", "route": "crisis"}).id == 2


def test_a_stored_silence_that_no_longer_parses_matches_nothing():
    assert silenced_by([silence(1, 'entity=~"("')], {"entity": "("}) is None


def test_a_new_silence_is_checked():
    assert [str(m) for m in checked_matchers(['entity="a"'], T0 + timedelta(minutes=1), T0)] == ['entity="a"']
    for matchers, ends, why in (([], T0 + timedelta(hours=1), "at least one matcher"),
                                (['entity=~"(a"'], T0 + timedelta(hours=1), "bad regular expression"),
                                (['entity="a"'], T0, "must end in the future")):
        with pytest.raises(SilenceError, match=why):
            checked_matchers(matchers, ends, T0)


# --------------------------------------------------------------------------- inhibition


def test_a_burst_mutes_severe_alerts_of_its_own_entity_only():
    firing = [alert(1, kind="burst", entity="dr-lin"), alert(2, kind="severe", entity="renxin")]
    assert inhibitor(DEFAULT_INHIBIT, {"kind": "severe", "entity": "dr-lin"}, firing).id == 1
    assert inhibitor(DEFAULT_INHIBIT, {"kind": "severe", "entity": "renxin"}, firing) is None
    assert inhibitor(DEFAULT_INHIBIT, {"kind": "burst", "entity": "dr-lin"}, firing) is None  # not a target


def test_inhibition_compares_every_equal_label():
    rule = Inhibit(source=(parse_matcher('kind="source-health"'),), target=(parse_matcher('kind="burst"'),),
                   equal=("source",))
    firing = [alert(7, kind="source-health", source="ptt")]
    assert inhibitor((rule,), {"kind": "burst", "source": "ptt"}, firing).id == 7
    assert inhibitor((rule,), {"kind": "burst", "source": "dcard"}, firing) is None


# --------------------------------------------------------------------------- quiet hours and group timing


def test_quiet_hours_across_midnight_in_the_routes_time_zone():
    r = route("watch", quiet_hours=((22 * 60, 8 * 60),), timezone="Asia/Taipei")
    at_23 = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)  # 23:00 in Taipei
    assert quiet_until(r, at_23) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 the next morning
    at_0759 = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)
    assert quiet_until(r, at_0759) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert quiet_until(r, datetime(2026, 11, 23, 0, 0, tzinfo=UTC)) is None  # 08:00: over
    assert quiet_until(route("any"), at_23) is None


def test_quiet_hours_within_one_day():
    r = route("watch", quiet_hours=((12 * 60, 13 * 60 + 30),), timezone="UTC")
    assert quiet_until(r, datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == datetime(2026, 11, 22, 13, 30, tzinfo=UTC)
    assert quiet_until(r, datetime(2026, 11, 22, 13, 30, tzinfo=UTC)) is None
    assert quiet_until(r, datetime(2026, 11, 22, 11, 59, tzinfo=UTC)) is None


def test_group_wait_then_group_interval():
    r = route("crisis", group_wait=timedelta(seconds=30), group_interval=timedelta(minutes=5))
    fresh = GroupRow(route_id="crisis", group_key="k", created_at=T0, first_pending_at=T0)
    assert not group_due(fresh, r, T0 + timedelta(seconds=29))
    assert group_due(fresh, r, T0 + timedelta(seconds=30))
    paged = GroupRow(route_id="crisis", group_key="k", created_at=T0, first_pending_at=T0 + timedelta(minutes=1),
                     last_notified_at=T0)
    assert not group_due(paged, r, T0 + timedelta(minutes=4, seconds=59))
    assert group_due(paged, r, T0 + timedelta(minutes=5))


# --------------------------------------------------------------------------- spike and severe


SPIKE = Rule(id="spike", route=None, kind="spike", window=timedelta(hours=6), baseline=timedelta(days=14),
             factor=3.0, min_negative=3)


def test_spike_against_the_entitys_own_baseline():
    three = [mention(i, "x", 0.9) for i in range(3)]
    usual = evaluate_spike(SPIKE, three, 112, None, T0)  # 8 a day: 2 expected in 6 hours
    assert not usual.page and usual.reason == "3 negative < 3.0 x expected 2.00"
    quiet = evaluate_spike(SPIKE, three, 0, None, T0)
    assert quiet.page and quiet.facts == SpikeFacts(count=3, expected=0, ratio=None, window=21600, baseline=1209600)
    assert quiet.reason == "3 negative vs 0.00 expected (no baseline)"
    six = [mention(i, "x", 0.9) for i in range(6)]
    grown = evaluate_spike(SPIKE, six, 112, None, T0)
    assert grown.page and grown.facts.ratio == 3.0 and grown.facts.expected == 2.0


def test_spike_needs_min_negative_and_fires_once_per_burst():
    two = [mention(i, "x", 0.9) for i in range(2)]
    assert evaluate_spike(SPIKE, two, 0, None, T0).reason == "2 negative < 3"
    three = [mention(i, "x", 0.9) for i in range(3)]
    last = AlertRow(rule_id="spike", entity_id="e", fired_at=T0 - timedelta(hours=1), window_start=T0,
                    mention_ids="[0, 1, 2]")
    assert evaluate_spike(SPIKE, three, 0, last, T0).reason == "already alerted for this burst"
    grown = evaluate_spike(SPIKE, three + [mention(3, "x", 0.9)], 0, last, T0)
    assert grown.page and not grown.first and grown.new == 1


SEVERE = Rule(id="severe", route=None, kind="severe", min_score=0.97, terms=("醫療疏失", "lawsuit", "sue you"))


def test_severe_by_score_or_by_crisis_term():
    by_score = evaluate_severe(SEVERE, mention(1, "太誇張了", 0.98))
    assert by_score.page and by_score.facts == SevereFacts(terms=(), score=0.98, severe_score=True)
    by_term = evaluate_severe(SEVERE, mention(2, "這是醫療疏失吧", 0.6))
    assert by_term.page and by_term.facts == SevereFacts(terms=("醫療疏失",), score=0.6, severe_score=False)
    assert not evaluate_severe(SEVERE, mention(3, "還好", 0.9)).page


def test_severe_terms_fold_script_and_case_and_latin_terms_need_word_boundaries():
    assert evaluate_severe(SEVERE, mention(1, "这是医疗疏失", 0.1)).facts.terms == ("醫療疏失",)  # Simplified
    assert evaluate_severe(SEVERE, mention(2, "We will file a LAWSUIT.", 0.1)).page
    assert not evaluate_severe(SEVERE, mention(3, "lawsuits-free zone? pursue your dreams", 0.1)).page


# --------------------------------------------------------------------------- typed facts


FACTS = [BurstFacts(count=3, min=3, window=3600.0),
         SpikeFacts(count=6, expected=2.0, ratio=3.0, window=21600.0, baseline=1209600.0),
         SevereFacts(terms=("提告", "lawsuit"), score=0.8, severe_score=False),
         SourceHealthFacts(source="ptt", type="ptt", state="blocked", reason="HTTP 403", failures=2,
                           last_success=T0)]


@pytest.mark.parametrize("facts", FACTS, ids=lambda f: f.kind)
def test_facts_round_trip_with_their_kind_tag(facts):
    text = dump_facts(facts)
    assert json.loads(text)["kind"] == facts.kind
    assert parse_facts(text) == facts == parse_facts(text, facts.kind)


def test_facts_parse_strictly():
    good = {"kind": "burst", "count": 3, "min": 3, "window": 3600}
    assert parse_facts(json.dumps({k: v for k, v in good.items() if k != "kind"}), "burst") == BurstFacts(3, 3, 3600)
    for bad, why in (({k: v for k, v in good.items() if k != "window"}, r"missing \['window'\]"),
                     ({**good, "windw": 60}, r"unknown \['windw'\]"),
                     ({**good, "kind": "surge"}, "unknown kind of facts: 'surge'")):
        with pytest.raises(FactsError, match=why):
            parse_facts(json.dumps(bad))
    with pytest.raises(FactsError, match="facts of a 'burst' alert on a 'severe' alert"):
        parse_facts(json.dumps(good), "severe")
    with pytest.raises(FactsError, match="not JSON"):
        parse_facts(None)


# --------------------------------------------------------------------------- source health through the dispatcher


def health_config(tmp_path, extra=""):
    return load_config(write_config(tmp_path, f"""
        [storage]
        url = "sqlite:///{tmp_path / 'h.db'}"
        [daemon]
        ops_route = "ops"
        [[entities]]
        id = "dr-lin"
        name = "林志明醫師"
        [[sources]]
        id = "feed"
        type = "rss"
        url = "https://news.example.tw/rss"
        [[routes]]
        id = "ops"
        language = "en"
        notify = ["json://127.0.0.1:9/ops"]
        [[routes]]
        id = "crisis"
        notify = ["json://127.0.0.1:9/crisis"]
        matchers = ['severity=~"warning|critical"']
        {extra}
    """), env={})


def blocked(store: Store, config, at: datetime) -> None:
    source = config.source("feed")
    record_fetch(store, "feed", FetchResult("blocked", error="HTTP 403: challenge page"), 0, at, source.digest)


def test_a_health_notice_is_a_labelled_alert_routed_to_ops_at_once(tmp_path, clock):
    config = health_config(tmp_path)
    store = Store(config.storage.url)
    try:
        blocked(store, config, clock.now())
        [alert_id] = raise_notices(config, store, clock.now())
        report = Dispatcher(config, store, clock).run()
        assert len(report.notices) == 1 and report.notifications == report.notices
        row = store.alert(alert_id)
        assert row.status == AlertStatus.NOTIFIED and row.route_id == "ops"
        assert row.label_map == {"rule": "source-health", "kind": "source-health", "severity": "warning",
                                 "source": "feed", "type": "rss", "state": "blocked", "route": "ops"}
        assert parse_facts(row.detail, "source-health").reason == \
            "blocked by an anti-bot wall (HTTP 403: challenge page); backing off"
        note = store.notifications(report.notices)[report.notices[0]]
        assert note.kind == NoteKind.OPS and note.route_id == "ops" and note.title.endswith("feed is blocked (anti-bot)")
        assert store.source_state("feed").notice_state == "blocked"  # recorded with the alert
    finally:
        store.close()


def test_a_silence_on_the_source_mutes_its_health_notice(tmp_path, clock):
    config = health_config(tmp_path)
    store = Store(config.storage.url)
    try:
        dispatcher = Dispatcher(config, store, clock)
        dispatcher.silence(['source="feed"', 'kind="source-health"'], clock.now() + timedelta(hours=1), "Amy", "")
        blocked(store, config, clock.now())
        [alert_id] = raise_notices(config, store, clock.now())
        report = dispatcher.run()
        assert report.silenced == 1 and report.notices == []
        assert store.alert(alert_id).status == AlertStatus.SILENCED
    finally:
        store.close()


def test_an_inhibit_rule_can_mute_health_notices(tmp_path, clock):
    config = health_config(tmp_path, """
        [[inhibit]]
        source_matchers = ['kind="source-health"', 'state="blocked"']
        target_matchers = ['kind="source-health"', 'state="failing"']
        equal = ["source"]
    """)
    store = Store(config.storage.url)
    try:
        blocked(store, config, clock.now())
        raise_notices(config, store, clock.now())
        dispatcher = Dispatcher(config, store, clock)
        assert len(dispatcher.run().notices) == 1
        state = store.source_state("feed")
        failing = health_alert(config.source("feed"), state, Health("failing", "HTTP 500"), "failing", "ops",
                               clock.now(), timedelta(hours=6))
        muted = store.raise_alert(failing)
        report = dispatcher.run()
        assert report.inhibited == 1 and report.notices == []
        assert store.alert(muted.id).status == AlertStatus.INHIBITED
    finally:
        store.close()
