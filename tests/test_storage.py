"""Storage on a real SQLite file and a real PostgreSQL server (the ``db_url`` fixture)."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from monitor.health import record_fetch
from monitor.matching import Match
from monitor.mention import FetchResult, Mention, canonical_url
from monitor.store import AlertRow, NotificationRow, Store
from tests.conftest import T0

M = [Match("dr-lin", "林志明")]


def mention(**kw):
    base = dict(source_id="ga", title="林志明醫師", text="態度很差", url="https://forum.example.tw/t/1")
    base.update(kw)
    return Mention(**base)


def test_each_mention_is_stored_once(store):
    a = mention(published_at=T0 - timedelta(minutes=5))
    first = store.add_mentions([(a, M)], detected_at=T0)
    again = store.add_mentions([(a, M), (mention(url="https://forum.example.tw/t/1/?utm_source=x#c"), M)], T0)
    assert len(first) == 1 and again == []
    assert store.count_mentions() == 1


def test_fingerprint_fallbacks():
    by_guid = Mention("s1", "t", "x", url="https://a.example/1", guid="g-1")
    assert by_guid.fingerprint != Mention("s2", "t", "x", url="https://a.example/1", guid="g-1").fingerprint
    by_url = Mention("s1", "t", "x", url="https://A.example/1?utm_medium=m&b=2&a=1")
    assert by_url.fingerprint == Mention("s2", "other", "y", url="https://a.example/1?a=1&b=2").fingerprint
    by_text = Mention("s1", "Title", "Some  text")
    assert by_text.fingerprint == Mention("s2", "title", "some text").fingerprint
    assert canonical_url("https://x.example/a/?fbclid=1#top") == "https://x.example/a"


def test_the_database_enforces_uniqueness(store):
    store.add_mentions([(mention(), M)], T0)
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO mentions (fingerprint, source_id, title, text, detected_at, event_at) "
                "SELECT fingerprint, source_id, title, text, detected_at, event_at FROM mentions"))


def test_datetimes_come_back_aware_utc(store):
    taipei = timezone(timedelta(hours=8))
    published = datetime(2026, 11, 22, 17, 30, tzinfo=taipei)
    store.add_mentions([(mention(published_at=published), M)], T0)
    row = store.mentions()[0]
    assert row.event_at == published and row.event_at.tzinfo is not None
    assert row.event_at.utcoffset() == timedelta(0)
    assert row.detected_at == T0


def test_event_time_never_later_than_detection(store):
    store.add_mentions([(mention(published_at=T0 + timedelta(days=3)), M)], T0)
    assert store.mentions()[0].event_at == T0


def test_scores_and_negative_query(store):
    ids = store.add_mentions([(mention(url=f"https://f.example/{i}"), M) for i in range(3)], T0)
    store.save_scores([(ids[0], "negative", 0.9, 0.9), (ids[1], "neutral", 0.6, 0.3), (ids[2], "negative", 0.55, 0.55)],
                      "test", T0)
    got = store.negative_mentions("dr-lin", T0 - timedelta(hours=1), T0, 0.5)
    assert [m.id for m in got] == [ids[0], ids[2]]  # worst first
    assert store.negative_mentions("dr-lin", T0 - timedelta(hours=1), T0, 0.6)[0].id == ids[0]
    assert store.negative_mentions("someone-else", T0 - timedelta(hours=1), T0, 0.5) == []
    assert store.unscored(10) == []


def test_source_state_records_health(store):
    record_fetch(store, "ga", FetchResult("ok", etag='"e1"', last_modified="lm", cursor="c1"), 2, T0)
    before, after = record_fetch(store, "ga", FetchResult("failed", error="HTTP 500"), 0, T0 + timedelta(minutes=5))
    assert (before, after) == ("ok", "failing")
    record_fetch(store, "ga", FetchResult("failed", error="timeout"), 0, T0 + timedelta(minutes=10))
    st = store.source_state("ga")
    assert st.consecutive_failures == 2 and st.last_error == "timeout" and st.etag == '"e1"'
    assert st.last_success_at == T0 and st.total_mentions == 2
    record_fetch(store, "ga", FetchResult("not_modified"), 0, T0 + timedelta(minutes=15))
    st = store.source_state("ga")
    assert st.status == "ok" and st.consecutive_failures == 0 and st.etag == '"e1"'


def test_outbox_claims_and_retries(store):
    ids = store.add_mentions([(mention(), M)], T0)
    alert = store.add(AlertRow(rule_id="r", entity_id="dr-lin", fired_at=T0, window_start=T0 - timedelta(hours=1),
                               count=1, mention_ids=str(ids), title="t"))
    note = store.create_notification(NotificationRow(route_id="crisis", kind="page", alert_id=alert.id, created_at=T0,
                                                     title="t", text="b"),
                                     [("crisis", 0, "json://127.0.0.1/***"), ("crisis", 1, "mailto://***")])
    lease = T0 - timedelta(minutes=2)
    due = store.claim_deliveries(T0, 5, lease)
    assert [d.target_index for d in due] == [0, 1] and {d.notification_id for d in due} == {note.id}
    assert store.claim_deliveries(T0, 5, lease) == []  # claimed: not handed out twice
    store.finish_delivery(due[0].id, True, None, T0, None, 5)
    store.finish_delivery(due[1].id, False, "HTTP 500", T0, T0 + timedelta(seconds=30), 5)
    assert store.claim_deliveries(T0, 5, lease) == []
    assert [d.id for d in store.claim_deliveries(T0 + timedelta(seconds=30), 5, lease)] == [due[1].id]
    # a claim nobody finished (the sender died) is handed out again once the lease is over
    assert store.claim_deliveries(T0 + timedelta(seconds=60), 5, T0) == []
    assert [d.id for d in store.claim_deliveries(T0 + timedelta(minutes=5), 5, T0 + timedelta(seconds=31))] == [due[1].id]
    assert store.last_alert("r", "dr-lin").mention_id_set == set(ids)


def test_sqlite_uses_wal(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'w.db'}")
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    s.close()


def test_data_survives_reopening(db_url):
    s = Store(db_url)
    s.add_mentions([(mention(), M)], T0)
    s.close()
    s2 = Store(db_url)
    assert s2.count_mentions() == 1
    s2.close()
