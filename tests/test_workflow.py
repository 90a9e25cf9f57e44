"""The crisis workflow end to end with an injected clock, a real SQLite file and apprise
posting to a local receiver: rules, routing, grouping, inhibition, silences, quiet hours,
incidents, escalation, acknowledgement (CLI and link), the outbox after a crash, a
receiver that is down, digests and PHI masking. Nothing sleeps; the clock is moved."""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from monitor.app import App
from monitor.cli import main
from monitor.config import load_config
from monitor.matching import Match
from monitor.mention import Mention
from monitor.notify import Notifier
from monitor.outbox import SEND_LEASE
from monitor.store import AlertRow, DeliveryRow, IncidentRow, MentionRow, NotificationRow, Store
from tests.conftest import T0, write_config

SECRET = "test-secret-0123456789abcdef"
ENV = {"REPWATCH_ACK_SECRET": SECRET}


def config_text(db, rx, extra_routes="", rules=None, crisis="", incidents=""):
    rules = rules if rules is not None else """
[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"

[[rules]]
id = "severe-mention"
kind = "severe"
min_score = 0.97
"""
    return f"""
[storage]
url = "sqlite:///{db}"

[daemon]
ops_route = "ops"
listen = ""

[incidents]
response_window = "1h"
public_url = "http://127.0.0.1:8787"
{incidents}

[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明"]

[[entities]]
id = "renxin"
name = "仁心診所"
kind = "clinic"

[[routes]]
id = "ops"
language = "en"
notify = ["{rx.url('/ops')}"]

[[routes]]
id = "crisis"
notify = ["{rx.url('/crisis')}"]
matchers = ['severity="critical"']
group_wait = "30s"
group_interval = "5m"
escalate_after = "15m"
escalate_to = "director"
{crisis}

[[routes]]
id = "director"
notify = ["{rx.url('/director')}"]
escalate_after = "15m"
escalate_to = "owner"

[[routes]]
id = "owner"
notify = ["{rx.url('/owner')}"]
{extra_routes}
{rules}
"""


class Crash(BaseException):
    """A simulated kill: not an Exception, so nothing in repwatch catches it."""


@pytest.fixture
def make(tmp_path, clock, receiver, fake_scorer):
    apps = []

    def build(notifier=None, env=ENV, **kw):
        path = write_config(tmp_path, config_text(tmp_path / "w.db", receiver, **kw))
        app = App(load_config(path, env=env), scorer=fake_scorer, clock=clock, notifier=notifier)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.close()


def add(app, clock, text, neg=0.9, entity="dr-lin", source="ga", age=timedelta(0), n=[0]):
    n[0] += 1
    m = Mention(source, f"{text} #{n[0]}", text, url=f"https://forum.example.tw/t/{n[0]}",
                published_at=clock.now() - age)
    ids = app.store.add_mentions([(m, [Match(entity, entity)])], clock.now())
    label = "negative" if neg >= 0.5 else "positive"
    app.store.save_scores([(ids[0], label, max(neg, 1 - neg), neg)], "test", clock.now())
    return ids[0]


def step(app, clock, seconds=0):
    if seconds:
        clock.advance(timedelta(seconds=seconds))
    return app.process()


def incidents(app):
    return app.store.rows(IncidentRow)


# --------------------------------------------------------------------------- rules and routing


def test_burst_waits_for_group_wait_then_one_page_opens_an_incident(make, clock, receiver):
    app = make()
    add(app, clock, "林志明 態度很差", age=timedelta(minutes=60))  # exactly on the window edge: outside
    add(app, clock, "林志明 等太久")
    add(app, clock, "林志明 亂收費")
    step(app, clock)
    assert app.store.rows(AlertRow) == []
    add(app, clock, "林志明 誤診")
    step(app, clock)  # alert raised and grouped; group_wait (30s) not over
    assert [a.status for a in app.store.rows(AlertRow)] == ["grouped"]
    assert receiver.at("/crisis") == []
    step(app, clock, 29)
    assert receiver.at("/crisis") == []
    step(app, clock, 1)
    assert receiver.wait_for(1, 5)
    page = receiver.at("/crisis")[0]
    assert page["title"] == "[repwatch] 林志明醫師:1 小時內 3 則負面提及"
    inc = incidents(app)[0]
    assert inc.status == "open" and inc.deadline == T0 + timedelta(hours=1)  # first detection + 1h
    assert f"事件 #{inc.id}" in page["message"] and "/ack/" in page["message"]
    step(app, clock, 60)
    assert len(receiver.received) == 1  # same burst: nothing new


def test_grouping_folds_alerts_of_one_entity_into_one_page_then_updates_after_group_interval(make, clock, receiver):
    app = make()
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    add(app, clock, "林志明 有醫療疏失", neg=0.6)  # severe by crisis term, same entity, inside group_wait
    step(app, clock, 10)
    alerts = app.store.rows(AlertRow)
    assert {json.loads(a.labels)["kind"] for a in alerts} == {"burst", "severe"}
    step(app, clock, 20)
    assert receiver.wait_for(1, 5)
    step(app, clock, 1)
    assert len(receiver.at("/crisis")) == 1  # one page for both
    assert "等 1 項警示" in receiver.at("/crisis")[0]["title"]
    add(app, clock, "林志明 又一則負評")  # the burst grows
    step(app, clock, 60)
    assert len(receiver.at("/crisis")) == 1  # group_interval (5m) not over
    step(app, clock, 240)
    assert receiver.wait_for(2, 5)
    update = receiver.at("/crisis")[1]
    assert update["title"].startswith("[repwatch] [更新] 林志明醫師")
    assert len(incidents(app)) == 1  # the update joins the open incident


def test_burst_inhibits_single_mention_alerts_of_the_same_entity_only(make, clock, receiver):
    app = make()
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(1, 5)
    lawsuit = add(app, clock, "林志明 我要提告", neg=0.8)
    other = add(app, clock, "仁心診所 提告", neg=0.8, entity="renxin")
    step(app, clock, 5)
    by_entity = {a.entity_id: a for a in app.store.rows(AlertRow) if json.loads(a.labels).get("kind") == "severe"}
    assert by_entity["dr-lin"].status == "inhibited"
    assert lawsuit in incidents(app)[0].mention_id_list  # muted, not lost: it joined the incident
    assert by_entity["renxin"].status == "grouped"
    step(app, clock, 30)
    assert receiver.wait_for(2, 5)
    titles = [p["title"] for p in receiver.at("/crisis")]
    assert titles[1] == "[repwatch] 仁心診所:嚴重提及" and other


def test_silence_mutes_until_it_expires_then_a_still_firing_alert_pages(make, clock, receiver, tmp_path):
    app = make()
    app.dispatcher.silence(['entity="dr-lin"', 'kind="burst"'], clock.now() + timedelta(minutes=30), "Amy", "known")
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 60)
    assert [a.status for a in app.store.rows(AlertRow)] == ["silenced"]
    step(app, clock, 28 * 60)  # 29 min: still silenced
    assert receiver.received == []
    step(app, clock, 61)  # 30 min 1 s: the silence has expired, the burst is still inside its hour
    step(app, clock, 30)
    assert receiver.wait_for(1, 5) and receiver.at("/crisis")


def test_silence_that_outlives_the_alert_never_pages_it(make, clock, receiver):
    app = make()
    silence = app.dispatcher.silence(['entity="dr-lin"'], clock.now() + timedelta(hours=2), "Amy", "")
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 61 * 60)  # the alert stopped firing while silenced
    app.dispatcher.expire_silence(silence.id)
    step(app, clock, 60)
    assert receiver.received == []


def test_quiet_hours_hold_warnings_but_never_critical(make, clock, receiver):
    quiet = f"""
[[routes]]
id = "watch"
notify = ["{receiver.url('/watch')}"]
matchers = ['severity="warning"']
quiet_hours = ["22:00-08:00"]
timezone = "Asia/Taipei"
group_wait = "0s"
"""
    rules = """
[[rules]]
id = "negative-burst"
min_negative = 3

[[rules]]
id = "spike"
kind = "spike"
entities = ["renxin"]
window = "6h"
min_negative = 2
"""
    app = make(extra_routes=quiet, rules=rules, crisis='quiet_hours = ["22:00-08:00"]\ntimezone = "Asia/Taipei"')
    clock.advance(timedelta(hours=5))  # 15:00 UTC = 23:00 in Taipei
    add(app, clock, "仁心診所 不好", entity="renxin")
    add(app, clock, "仁心診所 很糟", entity="renxin")
    step(app, clock)
    assert receiver.at("/watch") == []  # a warning waits for morning
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(1, 5) and len(receiver.at("/crisis")) == 1  # critical goes out at 23:00
    step(app, clock, 8 * 3600 + 59 * 60)  # 07:59:30 local: still quiet
    assert receiver.at("/watch") == []
    step(app, clock, 60)  # 08:00:30 local
    assert receiver.wait_for(2, 5) and len(receiver.at("/watch")) == 1


def test_spike_is_measured_against_the_entitys_own_baseline(make, clock, receiver):
    rules = """
[[rules]]
id = "spike"
kind = "spike"
window = "6h"
baseline = "14d"
factor = 3.0
min_negative = 3
severity = "critical"
"""
    app = make(rules=rules)
    # the clinic usually gets 8 complaints a day (2 per 6 hours); the doctor none
    span = timedelta(days=14) - timedelta(hours=1)
    for i in range(112):
        add(app, clock, "仁心診所 普通抱怨", entity="renxin", age=timedelta(hours=7) + span * i / 112)
    for k in range(3):
        add(app, clock, "仁心診所 抱怨", entity="renxin")
        add(app, clock, "林志明 抱怨")
    step(app, clock, 30)
    fired = {a.entity_id: json.loads(a.detail) for a in app.store.rows(AlertRow)}
    assert set(fired) == {"dr-lin"}  # 3 vs 2 expected is the clinic's usual; 3 vs 0 is not the doctor's
    assert fired["dr-lin"]["expected"] == 0
    for k in range(3):
        add(app, clock, "仁心診所 又來", entity="renxin")
    step(app, clock, 30)
    renxin = [json.loads(a.detail) for a in app.store.rows(AlertRow) if a.entity_id == "renxin"]
    assert renxin and renxin[0]["count"] == 6 and renxin[0]["expected"] == 2.0 and renxin[0]["ratio"] == 3.0


def test_an_alert_no_route_takes_is_reported_to_ops(make, clock, receiver):
    rules = """
[[rules]]
id = "info-only"
kind = "severe"
severity = "info"
"""
    app = make(rules=rules)
    add(app, clock, "林志明 醫療疏失")
    step(app, clock)
    assert app.store.rows(AlertRow)[0].status == "unrouted"
    assert receiver.wait_for(1, 5)
    assert receiver.at("/ops")[0]["title"] == "[repwatch ops] an alert matched no route: info-only"


# --------------------------------------------------------------------------- incidents


def page_once(app, clock, receiver):
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(1, 5)
    return incidents(app)[0]


def test_escalation_climbs_the_ladder_until_someone_acks(make, clock, receiver):
    app = make()
    inc = page_once(app, clock, receiver)
    step(app, clock, 15 * 60 - 1)
    assert receiver.at("/director") == []
    step(app, clock, 1)  # 15 min after the page
    assert receiver.wait_for(2, 5)
    esc = receiver.at("/director")[0]
    assert esc["title"].startswith("[repwatch] [升級] 林志明醫師") and "15 分鐘內" in esc["message"]
    step(app, clock, 15 * 60)
    assert receiver.wait_for(3, 5) and len(receiver.at("/owner")) == 1
    assert app.store.get(IncidentRow, inc.id).tier == 2
    app.dispatcher.ack(inc.id, "Amy", via="cli")
    step(app, clock)
    assert receiver.wait_for(6, 5)  # the ack is told to every route that was paged
    acks = [p for p in receiver.received if "認領" in p.payload["title"]]
    assert sorted(p.path for p in acks) == ["/crisis", "/director", "/owner"]
    step(app, clock, 4 * 3600)
    assert len(receiver.received) == 6  # no more escalation, no repeat after an ack
    done = app.store.get(IncidentRow, inc.id)
    assert done.status == "acked" and done.acked_by == "Amy" and done.acked_at <= done.deadline


def test_unacknowledged_incident_repeats_every_repeat_interval(make, clock, receiver):
    app = make(crisis='repeat_interval = "20m"')
    inc = page_once(app, clock, receiver)
    app.store.update(IncidentRow, inc.id, next_escalation_at=None)  # no ladder here
    step(app, clock, 19 * 60)
    assert len(receiver.at("/crisis")) == 1
    step(app, clock, 60)
    assert receiver.wait_for(2, 5)
    assert receiver.at("/crisis")[1]["title"].startswith("[repwatch] [尚未確認]")


def test_ack_by_command_and_incident_listing(make, clock, receiver, tmp_path, capsys, monkeypatch):
    app = make()
    inc = page_once(app, clock, receiver)
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET)
    cfg = str(tmp_path / "repwatch.toml")
    assert main(["ack", str(inc.id), "--by", "Dr. Chen", "--config", cfg]) == 0
    assert f"incident #{inc.id} acknowledged by Dr. Chen" in capsys.readouterr().out
    assert main(["ack", "999", "--by", "x", "--config", cfg]) == 1
    assert "no incident #999" in capsys.readouterr().err
    assert main(["resolve", str(inc.id), "--by", "Dr. Chen", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["incidents", "--all", "--json", "--config", cfg]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["status"] == "resolved" and row["acked_by"] == "Dr. Chen" and row["ack_via"] == "cli"
    assert row["time_to_ack_s"] is not None and row["hour_met"] in (True, False)
    assert main(["incidents", "--config", cfg]) == 0
    assert "(0 incidents open" in capsys.readouterr().out


def test_ack_by_signed_link_served_by_the_daemon_endpoint(make, clock, receiver):
    from monitor.web import WebServer

    app = make()
    inc = page_once(app, clock, receiver)
    link = next(w for w in receiver.at("/crisis")[0]["message"].split() if "/ack/" in w)
    token = link.rsplit("/ack/", 1)[1]
    server = WebServer(app, "127.0.0.1:0").start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        with urllib.request.urlopen(f"{base}/ack/{token}") as r:  # GET (a chat unfurler) acknowledges nothing
            form = r.read().decode()
        assert 'method="post"' in form and "林志明 差" not in form
        assert app.store.get(IncidentRow, inc.id).status == "open"
        forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(f"{base}/ack/{forged}", data=b"by=Mallory"))
        assert err.value.code == 403
        with urllib.request.urlopen(urllib.request.Request(f"{base}/ack/{token}", data="by=王<b>小明</b>".encode())) as r:
            done = r.read().decode()
        assert "acknowledged" in done and "<b>" not in done
        row = app.store.get(IncidentRow, inc.id)
        assert row.status == "acked" and row.ack_via == "link" and row.acked_by == "王<b>小明</b>"
        clock.advance(timedelta(hours=25))  # links expire (link_ttl 24h)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(f"{base}/ack/{token}", data=b"by=late"))
        assert err.value.code == 403 and "expired" in err.value.read().decode()
    finally:
        server.stop()


def test_healthz_and_metrics(make, clock, receiver):
    from monitor.web import WebServer

    app = make()
    page_once(app, clock, receiver)
    server = WebServer(app, "127.0.0.1:0").start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz") as r:
            health = json.loads(r.read())
        assert health["status"] == "ok" and health["database"] == "ok" and health["open_incidents"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics") as r:
            text = r.read().decode()
    finally:
        server.stop()
    assert 'repwatch_mentions_total{source="ga"} 3' in text
    assert 'repwatch_incidents{status="open"} 1' in text
    assert 'repwatch_notifications_total{kind="page",route="crisis"} 1' in text  # prometheus_client sorts labels
    assert 'repwatch_deliveries{route="crisis",status="sent"} 1' in text
    assert "repwatch_page_latency_seconds_count 1" in text
    assert 'repwatch_alerts_total{rule="negative-burst",status="notified"} 1' in text


# --------------------------------------------------------------------------- outbox


class CrashingNotifier(Notifier):
    """Sends for real, but dies (like a kill) when asked to send to ``crash_on``."""

    def __init__(self, crash_on: str):
        super().__init__(timeout=5)
        self.crash_on = crash_on

    def send(self, url, title, body, body_format="text", notify_type="info"):
        if self.crash_on in url:
            raise Crash(url)
        return super().send(url, title, body, body_format, notify_type)


def test_outbox_after_a_crash_sends_what_was_not_sent_and_nothing_twice(make, clock, receiver):
    both = f'notify = ["{receiver.url("/crisis")}", "{receiver.url("/crisis-line")}"]'
    crashing = make(notifier=CrashingNotifier("/crisis-line"), crisis="")
    # route "crisis" gets a second URL through a config that differs only there
    text = (crashing.config.path)
    with open(text, encoding="utf-8") as fh:
        body = fh.read().replace(f'notify = ["{receiver.url("/crisis")}"]', both, 1)
    with open(text, "w", encoding="utf-8") as fh:
        fh.write(body)
    crashing.close()
    crashing = App(load_config(text, env=ENV), scorer=crashing.scorer, clock=clock,
                   notifier=CrashingNotifier("/crisis-line"))
    for t in ("差", "很差", "非常差"):
        add(crashing, clock, f"林志明 {t}")
    step(crashing, clock)
    clock.advance(timedelta(seconds=30))
    with pytest.raises(Crash):
        crashing.process()  # the page is written, /crisis delivered, then the process dies on /crisis-line
    crashing.store.close()
    assert receiver.wait_for(1, 5)
    states = {d.target_index: d.status for d in Store(crashing.config.storage.url).rows(DeliveryRow)}
    assert states == {0: "sent", 1: "sending"}

    restarted = App(load_config(text, env=ENV), scorer=crashing.scorer, clock=clock)
    try:
        restarted.process()
        assert len(receiver.received) == 1  # the claim is still within its lease: not sent twice at once
        clock.advance(SEND_LEASE)
        restarted.process()
        assert receiver.wait_for(2, 5)
        restarted.process()
        clock.advance(timedelta(hours=1))
        restarted.process()
    finally:
        restarted.close()
    pages = sorted(r.path for r in receiver.received if r.path.startswith("/crisis"))
    assert pages == ["/crisis", "/crisis-line"]  # no loss, no duplicate


def test_crash_before_any_send_loses_nothing(make, clock, receiver):
    app = make(notifier=CrashingNotifier("/crisis"))
    for t in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {t}")
    step(app, clock)
    clock.advance(timedelta(seconds=30))
    with pytest.raises(Crash):
        app.process()
    assert receiver.received == []
    again = App(load_config(app.config.path, env=ENV), scorer=app.scorer, clock=clock)
    try:
        clock.advance(SEND_LEASE)
        again.process()
        assert receiver.wait_for(1, 5)
        clock.advance(timedelta(hours=1))
        again.process()
    finally:
        again.close()
    assert len(receiver.at("/crisis")) == 1 and len(again.store.rows(IncidentRow)) == 1


def test_receiver_down_retries_with_backoff_then_fallback_then_recovers(make, clock, receiver, tmp_path, capsys,
                                                                       monkeypatch):
    fallback = f"""
[[routes]]
id = "crisis-email"
notify = ["{receiver.url('/email')}"]
"""
    app = make(extra_routes=fallback, crisis='fallback = "crisis-email"\nfallback_after = "5m"')
    receiver.fail_paths["/crisis"] = 503
    for t in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {t}")
    step(app, clock)
    step(app, clock, 30)
    tries = [len(receiver.refused)]
    for seconds in (29, 1, 59, 1, 119, 1):  # backoff: 30 s, then 1 min, then 2 min
        step(app, clock, seconds)
        tries.append(len(receiver.refused))
    assert tries == [1, 1, 2, 2, 3, 3, 4]
    assert receiver.received == []
    step(app, clock, 89)
    assert receiver.received == []
    step(app, clock, 1)  # 5 min after the page was written, with no URL of the route delivered: fallback
    assert receiver.wait_for(1, 5) and len(receiver.at("/email")) == 1
    assert receiver.at("/email")[0]["title"] == "[repwatch] 林志明醫師:1 小時內 3 則負面提及"
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET)
    assert main(["deliveries", "--failed", "--config", str(tmp_path / "repwatch.toml")]) == 0
    out = capsys.readouterr().out
    assert "retrying" in out and "503" in out  # apprise's own reason, captured from its log
    del receiver.fail_paths["/crisis"]
    step(app, clock, 8 * 60)
    assert receiver.wait_for(2, 5) and len(receiver.at("/crisis")) == 1
    step(app, clock, 3600)
    assert len(receiver.at("/email")) == 1 and len(receiver.at("/crisis")) == 1


# --------------------------------------------------------------------------- digest and privacy

PLANTED = ("林志明醫師害我媽住院,身分證 A123456789,手機 0912-345-678,病歷號碼:12345678,生日 1985/03/14 "
           "mail wang.xiaoming@example.com. Dr Lin ruined my visit, MRN 00123456, DOB: March 14, 1985, "
           "call me at 415-555-0132")
LEAKS = ("A123456789", "0912-345-678", "12345678", "1985/03/14", "wang.xiaoming", "00123456", "March 14, 1985",
         "555-0132")


def test_daily_digest_per_route_once_a_day_with_phi_masked(make, clock, receiver):
    app = make(crisis='digest_at = "08:30"')
    add(app, clock, PLANTED, neg=0.99)
    add(app, clock, "仁心診所 很好", neg=0.1, entity="renxin", source="ptt")
    clock.advance(timedelta(hours=14, minutes=29))  # 00:29 UTC = 08:29 Taipei
    step(app, clock)
    digests = [p for p in receiver.at("/crisis") if "每日摘要" in p["title"]]
    assert digests == []
    step(app, clock, 60)
    assert receiver.wait_for(1, 5)
    digests = [p for p in receiver.at("/crisis") if "每日摘要" in p["title"]]
    assert len(digests) == 1 and digests[0]["title"] == "[repwatch] 每日摘要 2026-11-23"
    body = digests[0]["message"]
    assert "林志明醫師:1 則(負面 1)" in body and "仁心診所:1 則(負面 0)" in body and "ptt" in body
    for leak in LEAKS:
        assert leak not in body
    assert "沒有未結事件" in body
    step(app, clock, 3600)
    assert len([p for p in receiver.at("/crisis") if "每日摘要" in p["title"]]) == 1
    step(app, clock, 23 * 3600)
    assert len([p for p in receiver.at("/crisis") if "每日摘要" in p["title"]]) == 2


def test_pages_and_logs_mask_planted_patient_data(make, clock, receiver, caplog):
    from monitor.privacy import MaskingFilter

    app = make()
    add(app, clock, PLANTED, neg=0.99)
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(1, 5)
    page = receiver.at("/crisis")[0]
    for leak in LEAKS:
        assert leak not in page["message"] and leak not in page["title"]
    assert "[ID]" in page["message"] and "[phone]" in page["message"] and "[chart no.]" in page["message"]
    note = app.store.rows(NotificationRow)[0]
    for leak in LEAKS:
        assert leak not in note.markdown and leak not in note.html
    record = logging.LogRecord("repwatch", logging.ERROR, __file__, 1, "payload said %s", (PLANTED,), None)
    MaskingFilter().filter(record)
    for leak in LEAKS:
        assert leak not in record.getMessage()


def test_config_errors_name_the_key(tmp_path, receiver):
    bad = config_text(tmp_path / "x.db", receiver, crisis='quiet_hours = ["25:00-07:00"]',
                      rules='[[rules]]\nid = "r"\nkind = "surge"\n')
    bad = bad.replace('escalate_to = "owner"', 'escalate_to = "crisis"')
    bad = bad.replace("matchers = ['severity=\"critical\"']", 'matchers = ["severity=critical"]')
    path = write_config(tmp_path, bad)
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = "\n".join(str(p) for p in err.value.problems)
    assert "routes[1].quiet_hours" in text and "25:00-07:00" in text
    assert "rules[0].kind" in text and "surge" in text
    assert "escalation loops back" in text
    assert "REPWATCH_ACK_SECRET is not set" in text
    assert "routes[1].matchers" not in text  # severity=critical (unquoted) is valid Alertmanager syntax


def test_database_from_before_incidents_is_migrated_and_its_pending_delivery_sent(tmp_path, clock, receiver, make):
    import sqlite3

    con = sqlite3.connect(tmp_path / "w.db")  # the alerts and deliveries tables as repwatch 0.1 made them
    con.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, rule_id VARCHAR NOT NULL, entity_id VARCHAR NOT NULL, "
                "fired_at DATETIME NOT NULL, window_start DATETIME NOT NULL, count INTEGER NOT NULL, "
                "mention_ids TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)")
    con.execute("CREATE TABLE deliveries (id INTEGER PRIMARY KEY, alert_id INTEGER NOT NULL REFERENCES alerts (id), "
                "route_id VARCHAR NOT NULL, target_index INTEGER NOT NULL, target VARCHAR NOT NULL, status VARCHAR NOT "
                "NULL, attempts INTEGER NOT NULL, last_error TEXT, created_at DATETIME NOT NULL, sent_at DATETIME, "
                "next_attempt_at DATETIME)")
    con.execute("INSERT INTO alerts VALUES (1, 'negative-burst', 'dr-lin', '2026-11-22 09:59:00.000000', "
                "'2026-11-22 08:59:00.000000', 3, '[101, 102, 103]', 'old page', 'written by 0.1')")
    con.execute("INSERT INTO deliveries VALUES (1, 1, 'crisis', 0, 'json://127.0.0.1/***', 'pending', 0, NULL, "
                "'2026-11-22 09:59:00.000000', NULL, '2026-11-22 09:59:00.000000')")
    con.commit()
    con.close()
    app = make()
    step(app, clock)
    assert receiver.wait_for(1, 5) and receiver.at("/crisis")[0]["title"] == "old page"
    inc = page_once_more(app, clock, receiver)
    assert inc.status == "open"
    app.dispatcher.send_digest(app.config.route("crisis"), clock.now())
    step(app, clock)
    assert receiver.wait_for(3, 5)


def page_once_more(app, clock, receiver):
    for text in ("差", "很差", "非常差"):
        add(app, clock, f"林志明 {text}")
    step(app, clock)
    step(app, clock, 30)
    assert receiver.wait_for(2, 5)
    return incidents(app)[0]


def test_silence_and_digest_commands(make, clock, receiver, tmp_path, capsys, monkeypatch):
    app = make()
    add(app, clock, PLANTED, neg=0.99)
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET)
    cfg = str(tmp_path / "repwatch.toml")
    assert main(["silence", "add", 'entity="dr-lin"', 'kind=~"burst|severe"', "--for", "2h", "--by", "Amy",
                 "--comment", "known thread", "--config", cfg]) == 0
    assert "silence #1 until" in capsys.readouterr().out
    assert main(["silence", "add", "entity=dr-lin", "--by", "Amy", "--config", cfg]) == 2  # no --for / --until
    assert main(["silence", "add", 'entity=~"("', "--for", "1h", "--by", "Amy", "--config", cfg]) == 1
    assert "bad regular expression" in capsys.readouterr().err
    assert main(["silence", "list", "--json", "--config", cfg]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["matchers"] == ['entity="dr-lin"', 'kind=~"burst|severe"'] and row["state"] == "active"
    assert main(["silence", "expire", "1", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["silence", "list", "--config", cfg]) == 0
    assert "(0 silences)" in capsys.readouterr().out
    assert main(["digest", "crisis", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "每日摘要" in out and "A123456789" not in out  # the CLI runs on the system clock


def test_named_receivers_are_shared_by_routes(make, clock, receiver):
    shared = f"""
[[routes]]
id = "clinic-pager"
receivers = ["front-desk"]
notify = ["{receiver.url('/own')}"]
group_wait = "0s"

[receivers]
front-desk = ["{receiver.url('/desk-slack')}", "{receiver.url('/desk-mail')}"]
"""
    app = make(extra_routes=shared, rules='[[rules]]\nid = "sev"\nkind = "severe"\nroute = "clinic-pager"\n')
    add(app, clock, "仁心診所 勒索", neg=0.6, entity="renxin")
    step(app, clock)
    assert receiver.wait_for(3, 5)
    assert sorted(r.path for r in receiver.received) == ["/desk-mail", "/desk-slack", "/own"]


def test_live_mentions_are_scored_before_history_and_history_is_scored_in_bounded_runs(make, clock, monkeypatch):
    """40,000 first-poll mentions of new sources must not hold a live complaint's page back:
    live mentions are scored first, and history gets a bounded share of each run."""
    import monitor.scoring as scoring_module

    monkeypatch.setattr(scoring_module, "SCORE_CHUNK", 2)
    monkeypatch.setattr(scoring_module, "BACKFILL_CHUNK", 2)
    monkeypatch.setattr(scoring_module, "BACKFILL_BUDGET_S", -1.0)  # one chunk of history per run
    app = make()
    history = [Mention("ga", f"old {i}", f"old post {i}", url=f"https://old.example.tw/{i}") for i in range(5)]
    old_ids = app.store.add_mentions([(m, [Match("dr-lin", "dr-lin")]) for m in history], clock.now(),
                                     backfill_all=True)
    live = Mention("ga", "new", "new complaint", url="https://new.example.tw/1")
    live_id = app.store.add_mentions([(live, [Match("dr-lin", "dr-lin")])], clock.now())[0]
    report = app.process()
    scored = {r.id for r in app.store.rows(MentionRow) if r.sentiment_label is not None}
    assert live_id in scored
    assert report.scored == 3 and len(scored & set(old_ids)) == 2  # the live one, then one chunk of history
    for _ in range(2):
        app.process()
    assert all(r.sentiment_label is not None for r in app.store.rows(MentionRow))
