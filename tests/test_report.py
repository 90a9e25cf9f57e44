"""The weekly report (monitor.report): five weeks of mentions scored, paged, acknowledged
and resolved through the real pipeline (store, scorer stage, rules, dispatcher, incidents)
on a real SQLite file with an injected clock; the report's HTML and PDF (headless
Chromium) hold the figures computed here independently from the database file with
sqlite3; ``report_at`` queues it once at its local time, and the outbox delivers it to a
local HTTP receiver through the route."""
from __future__ import annotations

import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from monitor.app import App
from monitor.clock import ManualClock
from monitor.config import load_config
from monitor.health import record_fetch
from monitor.matching import Match
from monitor.mention import FetchResult, Mention
from monitor.report import build, find_chromium, html_to_pdf, report_html
from tests.conftest import FakeScorer, write_config

TAIPEI = ZoneInfo("Asia/Taipei")
FIRST = datetime(2026, 2, 2, tzinfo=TAIPEI)  # a Monday; the report's week is the fifth from here
END_DAY = date(2026, 3, 9)
NAMES = {"dr-lin": "林志明醫師", "renxin": "仁心診所", "dr-wang": "Dr. Wang & <Co>"}
NEGATIVE = ("很糟 等很久才看到", "很糟 態度很差", "很糟 收費太貴 自費", "很糟 terrible")
SVG = "{http://www.w3.org/2000/svg}"


def config_text(db: Path, rx) -> str:
    return f"""
[storage]
url = "sqlite:///{db}"

[daemon]
listen = ""

[incidents]
response_window = "1h"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[entities]]
id = "renxin"
name = "仁心診所"
kind = "clinic"

[[entities]]
id = "dr-wang"
name = "Dr. Wang & <Co>"

[[sources]]
id = "ga"
type = "rss"
url = "http://127.0.0.1:9/ga"

[[sources]]
id = "ptt"
type = "rss"
url = "http://127.0.0.1:9/ptt"

[[sources]]
id = "gmaps"
type = "rss"
url = "http://127.0.0.1:9/gmaps"

[[routes]]
id = "crisis"
notify = ["{rx.url('/crisis')}"]
group_wait = "0s"
report_at = "Mon 08:30"

[[routes]]
id = "weekly-en"
language = "en"
notify = ["{rx.url('/en')}"]

[[rules]]
id = "burst"
min_negative = 3
window = "1h"
route = "crisis"
"""


# -------------------------------------------------------------------- five weeks through the pipeline


def _day_plan(week: int, day: int) -> tuple[list[tuple[str, tuple[str, ...], str, float | None]], int | None]:
    """(mentions as (text, entities, source, rating), minutes until the ack or None) for one day."""
    entities = ("dr-lin", "renxin", "dr-wang")
    out = [(f"服務很好 w{week}d{day}k{k}", (entities[(day + k) % 3],), ("ga", "ptt")[k % 2], None)
           for k in range(2 + (week + day) % 3)]
    burst_days = {4: {0: 12, 2: 35, 4: 95, 6: None}}.get(week, {3: 20})
    if day in burst_days:  # three negatives of one entity at once: the burst rule pages
        who = entities[day % 3]
        out += [(NEGATIVE[(day + k) % 4] + f" w{week}d{day}b{k}", (who,), "ptt", None) for k in range(3)]
    elif (week + day) % 2 == 0:
        out.append((NEGATIVE[(week + day) % 4] + f" w{week}d{day}", (entities[week % 3],), "ga", None))
    if week == 4 and day == 1:  # one mention about two entities; a one-star review with no words
        out.append((NEGATIVE[1] + " 兩位都是", ("dr-lin", "renxin"), "ga", None))
        out.append(("", ("renxin",), "gmaps", 1.0))
    return out, burst_days.get(day, -1) if day in burst_days else -1


def to(clock: ManualClock, when: datetime) -> None:
    clock.advance(when - clock.now())


def _add(app: App, published: datetime, plan) -> None:
    for n, (text, entities, source, rating) in enumerate(plan):
        m = Mention(source, text[:12], text, url=f"https://forum.example.tw/{source}/{published:%Y%m%d%H}/{n}",
                    published_at=published - timedelta(minutes=5), rating=rating)
        app.store.add_mentions([(m, [Match(e, e) for e in entities])], app.clock.now())


def populate(app: App, clock: ManualClock) -> None:
    opened = set()
    for week in range(5):
        for day in range(7):
            to(clock, FIRST + timedelta(days=7 * week + day, hours=10))
            for inc in app.store.incidents(open_only=True):
                if inc.acked_at is not None:
                    app.dispatcher.resolve(inc.id, "Amy")
            plan, ack_after = _day_plan(week, day)
            _add(app, clock.now(), plan)
            if week == 4 and day == 0:  # published Monday 02:00 in Taipei: Sunday in UTC, the week before
                _add(app, clock.now() - timedelta(hours=8), [(NEGATIVE[0] + " 凌晨", ("dr-wang",), "ga", None)])
            app.process()
            new = [i for i in app.store.incidents() if i.id not in opened]
            opened |= {i.id for i in new}
            assert len(new) == (ack_after != -1)
            if new and ack_after is not None:
                clock.advance(timedelta(minutes=ack_after))
                app.dispatcher.ack(new[0].id, "Amy")
                app.process()
    end = (FIRST + timedelta(days=35, hours=8)).astimezone(timezone.utc)
    to(clock, end)  # said on Sunday, not scored yet: a mention of the week, but not in the share
    _add(app, end - timedelta(hours=20), [("還沒判讀", ("renxin",), "ga", None)])
    record_fetch(app.store, "ga", FetchResult("not_modified"), 0, end)
    for k in range(3):
        record_fetch(app.store, "ptt", FetchResult("failed", error="HTTP 503", http_status=503), 0,
                     end + timedelta(minutes=k))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from monitor.localserver import Receiver

    tmp = tmp_path_factory.mktemp("report")
    with Receiver() as rx:
        path = write_config(tmp, config_text(tmp / "r.db", rx))
        clock = ManualClock(FIRST.astimezone(timezone.utc))
        app = App(load_config(path, env={}), scorer=FakeScorer({"很糟": 0.95}), clock=clock)
        populate(app, clock)
        to(clock, datetime(2026, 3, 9, 8, 30, tzinfo=TAIPEI))
        yield app, clock, tmp, rx
        app.close()


# -------------------------------------------------------------------- the figures, independently


@dataclass
class Expected:
    total: int
    scored: int
    negative: int
    prev_share: float
    by_entity: dict[str, tuple[int, int, int]]  # mentions, scored, negative
    by_source: dict[str, tuple[int, int, int]]
    causes: Counter
    incidents: int
    inside: int
    p50_min: int
    p90_min: int


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def expected(db: Path, zone: str, end_day: date) -> Expected:
    """The week's figures from the database file with sqlite3 and Python, not the store."""
    z = ZoneInfo(zone)
    end = datetime.combine(end_day, time(0), tzinfo=z)
    start, prev = end - timedelta(days=7), end - timedelta(days=14)
    con = sqlite3.connect(db)
    rows = {i: (_ts(t), lab, src, causes) for i, t, lab, src, causes in
            con.execute("SELECT id, event_at, sentiment_label, source_id, causes FROM mentions")}
    week = {i: r for i, r in rows.items() if start <= r[0] < end}
    before = [r for r in rows.values() if prev <= r[0] < start]
    by_entity: dict[str, list[int]] = {}
    for mid, entity in con.execute("SELECT mention_id, entity_id FROM mention_entities"):
        if mid in week:
            e = by_entity.setdefault(entity, [0, 0, 0])
            e[0] += 1
            e[1] += week[mid][1] is not None
            e[2] += week[mid][1] == "negative"
    by_source: dict[str, list[int]] = {}
    causes: Counter = Counter()
    for _, label, src, c in week.values():
        s = by_source.setdefault(src, [0, 0, 0])
        s[0] += 1
        s[1] += label is not None
        s[2] += label == "negative"
        if label == "negative" and c:
            causes.update(c.split(","))
    incidents = [(_ts(d), _ts(dl), _ts(a) if a else None) for o, d, dl, a in
                 con.execute("SELECT opened_at, first_detected_at, deadline, acked_at FROM incidents")
                 if start <= _ts(o) < end]
    tta = [(a - d).total_seconds() for d, _, a in incidents if a]
    con.close()
    neg = sum(r[1] == "negative" for r in week.values())
    scored = sum(r[1] is not None for r in week.values())
    return Expected(len(week), scored, neg, sum(r[1] == "negative" for r in before) / len(before),
                    {k: tuple(v) for k, v in by_entity.items()}, {k: tuple(v) for k, v in by_source.items()}, causes,
                    len(incidents), sum(1 for _, dl, a in incidents if a and a <= dl),
                    round(np.percentile(tta, 50, method="inverted_cdf") / 60),
                    round(np.percentile(tta, 90, method="inverted_cdf") / 60))


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@pytest.fixture(scope="module")
def chromium():
    exe = find_chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail("no Chromium under CI: .ci/run must install Debian's chromium")
        pytest.skip("no Chromium (apt-get install chromium fonts-noto-cjk)")
    return exe


def pdf_text(path: Path) -> tuple[int, str, list[bytes]]:
    """(pages, the text with whitespace squashed and CJK compatibility forms folded, content streams)."""
    import unicodedata

    from pypdf import PdfReader

    reader = PdfReader(path)
    text = " ".join(page.extract_text() for page in reader.pages)
    return (len(reader.pages), " ".join(unicodedata.normalize("NFKC", text).split()),
            [page.get_contents().get_data() for page in reader.pages])


def svgs(document: str) -> dict[str, ET.Element]:
    """Each inline chart by its <title>."""
    out = {}
    for chunk in re.findall(r"<svg .*?</svg>", document, flags=re.S):
        root = ET.fromstring(chunk)
        out[root.find(f"{SVG}title").text] = root
    return out


def bars(root: ET.Element) -> list[tuple[str, float]]:
    return [(g.get("data-label"), float(g.get("data-value"))) for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]


WORDS = {  # what the report calls the figures, per language: the test reads the PDF with these
    "zh-TW": {"mentions": "提及", "scored": "已判讀", "negative": "負面提及", "share": "負面比例", "prev": "上週 {}",
              "inside": "黃金一小時內認領 {k} / {n}({s})", "p50": "認領時間 p50 {}", "p90": "認領時間 p90 {}",
              "min": "{} 分鐘", "hm": "{} 小時 {} 分鐘", "bar_entity": "依醫師/診所: 負面提及", "bar_source": "依來源: 負面提及",
              "bar_cause": "負面原因", "trend": "每週負面比例(%)", "daily": "每日負面提及(則)", "all": "全部",
              "causes": {"wait": "候診時間", "attitude": "態度與溝通", "billing": "收費與自費"}},
    "en": {"mentions": "Mentions", "scored": "Scored", "negative": "Negative mentions", "share": "Negative share",
           "prev": "previous week {}", "inside": "Acked inside the golden hour {k} of {n} ({s})",
           "p50": "Time to ack p50 {}", "p90": "Time to ack p90 {}", "min": "{} min", "hm": "{} h {} min",
           "bar_entity": "By doctor or clinic: Negative mentions", "bar_source": "By source: Negative mentions",
           "bar_cause": "Causes of negative mentions", "trend": "Negative share per week (%)",
           "daily": "Negative mentions per day", "all": "All",
           "causes": {"wait": "wait time", "attitude": "attitude & communication", "billing": "billing & self-pay"}},
}


def minutes(w: dict, m: int) -> str:
    return w["min"].format(m) if m < 60 else w["hm"].format(m // 60, m % 60)


@pytest.mark.parametrize("route_id,zone", [("crisis", "Asia/Taipei"), ("weekly-en", "UTC")])
def test_weekly_report_pdf_has_the_charts_and_the_database_figures(world, chromium, route_id, zone):
    app, clock, tmp, _ = world
    route = app.config.route(route_id)
    assert route.timezone == zone
    exp = expected(tmp / "r.db", zone, END_DAY)
    assert exp.incidents == 4 and exp.negative > 10 and len(exp.causes) == 3  # the data is not vacuous
    assert exp.total == exp.scored + 1
    report = build(app.config, app.store, route, END_DAY, clock.now())
    document = report_html(report)
    pdf = html_to_pdf(document, tmp / f"report-{route_id}.pdf", chromium=chromium)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages, text, streams = pdf_text(pdf)
    assert 2 <= pages <= 5
    w = WORDS[route.language]
    share = pct(exp.negative / exp.scored)
    for shown in (f"{w['mentions']} {exp.total}", f"{w['scored']} {exp.scored}", f"{w['negative']} {exp.negative}",
                  f"{w['share']} {share}", w["prev"].format(pct(exp.prev_share)),
                  w["inside"].format(k=exp.inside, n=exp.incidents, s=pct(exp.inside / exp.incidents)),
                  w["p50"].format(minutes(w, exp.p50_min)), w["p90"].format(minutes(w, exp.p90_min))):
        assert shown in text, shown
    for key, (total, scored, neg) in exp.by_entity.items():
        assert f"{NAMES[key]} {total} {neg} {pct(neg / scored)}" in text
    for key, (total, scored, neg) in exp.by_source.items():
        assert f"{key} {total} {neg} {pct(neg / scored)}" in text
    for cause, n in exp.causes.items():
        assert f"{w['causes'][cause]} {n}" in text
    # the charts: in the HTML, drawn from the same figures; in the PDF, their titles and their ink
    charts = svgs(document)
    assert sorted(bars(charts[w["bar_entity"]])) == sorted((NAMES[k], float(v[2])) for k, v in exp.by_entity.items())
    assert sorted(bars(charts[w["bar_source"]])) == sorted((k, float(v[2])) for k, v in exp.by_source.items() if v[2])
    assert sorted(bars(charts[w["bar_cause"]])) == sorted((w["causes"][c], float(n)) for c, n in exp.causes.items())
    trend = [float(c.get("data-y")) for c in charts[w["trend"]].iter(f"{SVG}circle")]
    assert trend[-1] == round(exp.negative / exp.scored * 100, 1) and trend[-2] == round(exp.prev_share * 100, 1)
    daily = {g.get("data-name"): sum(float(c.get("data-y")) for c in g.iter(f"{SVG}circle"))
             for g in charts[w["daily"]].iter(f"{SVG}g") if g.get("class") == "series"}
    assert daily == {NAMES[k]: v[2] for k, v in exp.by_entity.items()}  # one line per entity, its negatives
    per_day = re.search(w["all"] + r"((?: \d+){7}) ", text).group(1).split()  # the table's total row
    assert sum(map(int, per_day)) == exp.negative
    for title in charts:
        assert title in text
    ink = b"".join(streams)
    assert re.search(rb"0 \.447\d* \.698\d* rg", ink)  # the bars' fill (#0072B2)
    assert re.search(rb"\.835\d* \.368\d* 0 RG", ink)  # the first line's stroke (#D55E00)


def test_the_week_is_local_to_the_route(world):
    """Monday 02:00 in Taipei is Sunday in UTC: one negative mention is in one week or the other."""
    _, _, tmp, _ = world
    taipei, utc = expected(tmp / "r.db", "Asia/Taipei", END_DAY), expected(tmp / "r.db", "UTC", END_DAY)
    assert taipei.total == utc.total + 1 and taipei.negative == utc.negative + 1


def test_report_html_escapes_names_and_holds_no_mention_text(world):
    app, clock, _, _ = world
    document = report_html(build(app.config, app.store, app.config.route("crisis"), END_DAY, clock.now()))
    assert document.startswith("<!DOCTYPE html>") and "<script" not in document
    assert "default-src 'none'" in document  # nothing external, no script, even in a browser
    assert "Dr. Wang &amp; &lt;Co&gt;" in document and "<Co>" not in document
    for said in ("很糟", "服務很好", "forum.example.tw"):
        assert said not in document


# -------------------------------------------------------------------- report_at: scheduled, sent like a page


def reports_at(rx, path: str) -> list[dict]:
    return [p for p in rx.at(path) if "每週報告" in p["title"] or "weekly report" in p["title"]]


def test_report_at_queues_once_at_its_local_time_and_the_outbox_delivers_it(world):
    from monitor.report import WeeklyReports
    from monitor.store import NotificationRow

    app, clock, _, rx = world
    reports = WeeklyReports(app.config, app.store, app.clock)
    to(clock, datetime(2026, 3, 9, 8, 29, 59, tzinfo=TAIPEI))
    assert reports.run() == []
    to(clock, datetime(2026, 3, 9, 8, 30, tzinfo=TAIPEI))
    queued = reports.run()
    assert len(queued) == 1
    note = app.store.notifications(queued)[queued[0]]
    assert (note.route_id, note.kind) == ("crisis", "report")
    assert app.store.deliveries(note.id)[0].status == "pending"  # written down before it is sent
    clock.advance(timedelta(minutes=1))
    assert reports.run() == []  # once
    sent = app.outbox.run()
    assert sent.sent == 1 and rx.wait_for(1, 5)
    got = reports_at(rx, "/crisis")
    assert [p["title"] for p in got] == ["[repwatch] 每週報告 2026-03-02 – 2026-03-08"]
    assert got[0]["type"] == "info"  # a report is news, not an alarm
    exp = expected(app.config.storage.url.removeprefix("sqlite:///"), "Asia/Taipei", END_DAY)
    assert f"負面比例 {pct(exp.negative / exp.scored)}" in got[0]["message"]
    assert f"{exp.inside} / {exp.incidents}" in got[0]["message"]
    assert reports_at(rx, "/en") == []  # the route without report_at gets none
    assert note.html.startswith("<!DOCTYPE html>") and note.html.count("<svg") == 5  # the e-mail body
    to(clock, datetime(2026, 3, 16, 8, 30, tzinfo=TAIPEI))  # a week later: the next week's
    assert len(reports.run()) == 1
    app.outbox.run()
    assert [p["title"] for p in reports_at(rx, "/crisis")][-1] == "[repwatch] 每週報告 2026-03-09 – 2026-03-15"
    assert sum(1 for n in app.store.rows(NotificationRow) if n.kind == "report") == 2


def test_report_due_in_the_route_zone_with_a_grace():
    from monitor.config import Route
    from monitor.report import report_due
    from monitor.report.schedule import REPORT_GRACE

    taipei = Route("r", (), (), "zh-TW", "Asia/Taipei", report_at=(0, 8, 30))
    mon = datetime(2026, 3, 9, 8, 30, tzinfo=TAIPEI)
    assert report_due(taipei, None, mon - timedelta(seconds=1)) is None  # last week's is past its grace
    assert report_due(taipei, None, mon) == date(2026, 3, 9)
    assert report_due(taipei, mon, mon + timedelta(hours=1)) is None  # sent
    assert report_due(taipei, mon - timedelta(days=7), mon + REPORT_GRACE) == date(2026, 3, 9)
    assert report_due(taipei, mon - timedelta(days=7), mon + REPORT_GRACE + timedelta(seconds=1)) is None
    # New York on the Monday after DST began (2026-03-08): 08:30 local is 12:30 UTC, not 13:30
    ny = Route("r", (), (), "en", "America/New_York", report_at=(0, 8, 30))
    at = datetime(2026, 3, 9, 12, 30, tzinfo=timezone.utc)
    assert report_due(ny, None, at - timedelta(seconds=1)) is None and report_due(ny, None, at) == date(2026, 3, 9)
    assert report_due(Route("r", (), ()), None, at) is None  # no report_at


def test_daemon_schedules_reports_only_while_a_route_has_report_at(tmp_path, receiver):
    from monitor.daemon import Daemon

    body = config_text(tmp_path / "d.db", receiver)
    path = write_config(tmp_path, body)
    clock = ManualClock(datetime(2026, 3, 9, 8, 30, tzinfo=TAIPEI))
    app = App(load_config(path, env={}), scorer=FakeScorer(), clock=clock)
    daemon = Daemon(app)
    try:
        jobs = {j.id: j for j in daemon.scheduler.get_jobs()}
        assert jobs["reports"].trigger.interval == timedelta(minutes=1) and not jobs["reports"].inline
        jobs["reports"].func()  # what the scheduler runs every minute, run here so the test waits on nothing
        daemon.processor.run_once()  # the run its wake asked for: the outbox sends
        assert receiver.wait_for(1, 5)
        got = reports_at(receiver, "/crisis")
        assert len(got) == 1 and "負面比例 —" in got[0]["message"]  # an empty week says so
        jobs["reports"].func()
        daemon.processor.run_once()
        assert len(reports_at(receiver, "/crisis")) == 1
        path.write_text(body.replace('report_at = "Mon 08:30"', ""), encoding="utf-8")
        assert daemon.reload()
        assert "reports" not in {j.id for j in daemon.scheduler.get_jobs()}
        path.write_text(body, encoding="utf-8")
        assert daemon.reload()
        assert "reports" in {j.id for j in daemon.scheduler.get_jobs()}
    finally:
        daemon.scheduler.shutdown(grace=5)
        app.close()


def test_cli_writes_html_and_pdf_and_sends_through_the_route(world, chromium, capsys, monkeypatch):
    from monitor.cli import main

    app, _, tmp, rx = world
    monkeypatch.setenv("REPWATCH_CHROMIUM", chromium)
    out = tmp / "cli"
    before = len(reports_at(rx, "/en"))
    args = ["report", "--week", "--route", "weekly-en", "--end", "2026-03-09", "--out", str(out),
            "--config", str(tmp / "repwatch.toml")]
    assert main(args + ["--send"]) == 0
    printed = capsys.readouterr().out
    html_file, pdf_file = out / "report-weekly-en-2026-03-02.html", out / "report-weekly-en-2026-03-02.pdf"
    assert html_file.exists() and pdf_file.read_bytes()[:5] == b"%PDF-"
    assert str(pdf_file) in printed and "sent 1, failed 0" in printed
    assert rx.wait_for(1, 5)
    got = reports_at(rx, "/en")[before:]
    exp = expected(tmp / "r.db", "UTC", END_DAY)
    assert [p["title"] for p in got] == ["[repwatch] weekly report 2026-03-02 – 2026-03-08"]
    assert f"Negative share {pct(exp.negative / exp.scored)}" in got[0]["message"]
    assert main(["report", "--week", "--route", "nope", "--config", str(tmp / "repwatch.toml")]) == 2
    assert main(["report", "--week", "--end", "03/09", "--config", str(tmp / "repwatch.toml")]) == 2


def test_report_e_mail_is_the_whole_document_with_a_text_part_holding_the_figures(world):
    """Through apprise's mailto:// to a local SMTP server (aiosmtpd): the HTML part is the report
    with its inline charts; the plain-text part apprise writes from it keeps every figure."""
    import email
    import socket
    import threading
    from email import policy

    from aiosmtpd.controller import Controller

    from monitor.notify import Notifier
    from monitor.render import channel_of
    from monitor.report import report_message

    class Inbox:
        def __init__(self):
            self.messages, self.arrived = [], threading.Event()

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope.content)
            self.arrived.set()
            return "250 OK"

    app, clock, tmp, _ = world
    msg = report_message(build(app.config, app.store, app.config.route("crisis"), END_DAY, clock.now()))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=repwatch@clinic.example&to=pr@clinic.example&mode=insecure"
        fmt, body = msg.for_channel(channel_of(url))
        assert Notifier().send(url, msg.title, body, fmt).ok and inbox.arrived.wait(10)
    finally:
        controller.stop()
    mail = email.message_from_bytes(inbox.messages[0], policy=policy.default)
    assert mail["Subject"] == msg.title
    html_part = mail.get_body(("html",)).get_content()
    assert html_part.startswith("<!DOCTYPE html>") and html_part.count("<svg") == 5
    text = " ".join(mail.get_body(("plain",)).get_content().split())
    exp = expected(tmp / "r.db", "Asia/Taipei", END_DAY)
    assert f"負面比例 {pct(exp.negative / exp.scored)}" in text
    assert f"{exp.inside} / {exp.incidents}({pct(exp.inside / exp.incidents)})" in text
    assert "<svg" not in text and "@page" not in text  # no markup or style in the text part


def test_aggregate_reads_on_both_engines(store):
    """ReportsRepo's counts on SQLite and PostgreSQL: event-time bounds [start, end), a mention
    about two entities, unscored mentions, causes of negative verdicts only, incidents by opening."""
    from monitor.store import IncidentRow

    t0 = datetime(2026, 3, 2, tzinfo=timezone.utc)
    rows = [("a", ("dr-lin",), t0, "negative", "wait,attitude"), ("b", ("dr-lin", "renxin"), t0 + timedelta(hours=5),
            "negative", "wait"), ("c", ("renxin",), t0 + timedelta(days=6, hours=23), "positive", None),
            ("d", ("renxin",), t0 + timedelta(days=1), None, None),  # not scored yet
            ("e", ("dr-lin",), t0 + timedelta(days=7), "negative", "billing"),  # the next week
            ("f", ("dr-lin",), t0 - timedelta(seconds=1), "negative", "billing")]  # the week before
    for text, entities, at, label, causes in rows:
        m = Mention("ga" if text != "b" else "ptt", text, text, url=f"https://x.example/{text}", published_at=at)
        (mid,) = store.add_mentions([(m, [Match(e, e) for e in entities])], at + timedelta(minutes=1))
        if label:
            from monitor.verdict import Verdict

            store.save_scores([(mid, Verdict(label, 0.9, 0.9 if label == "negative" else 0.1, "model",
                                             tuple(causes.split(",")) if causes else ()))], "test", at)
    first = t0 + timedelta(hours=1)
    for opened, acked in ((first, first + timedelta(minutes=20)), (t0 + timedelta(days=8), None)):
        store.add(IncidentRow(route_id="crisis", entity_id="dr-lin", opened_at=opened, first_detected_at=opened,
                              deadline=opened + timedelta(hours=1), acked_at=acked))
    end = t0 + timedelta(days=7)
    tally = store.mention_tally(t0, end)
    assert (tally.total, tally.scored, tally.negative) == (4, 3, 2)
    assert [(t.key, t.total, t.scored, t.negative) for t in store.entity_tallies(t0, end)] == [
        ("dr-lin", 2, 2, 2), ("renxin", 3, 2, 1)]
    assert [(t.key, t.total, t.negative) for t in store.source_tallies(t0, end)] == [("ga", 3, 1), ("ptt", 1, 1)]
    assert store.negative_causes(t0, end) == Counter({"wait": 2, "attitude": 1})
    events = store.negative_events(t0, end)
    assert sorted((e, t) for _, e, t in events) == [("dr-lin", t0), ("dr-lin", t0 + timedelta(hours=5)),
                                                    ("renxin", t0 + timedelta(hours=5))]
    assert len({m for m, _, _ in events}) == 2
    (inc,) = store.incidents_opened(t0, end)
    assert inc.acked_at - inc.first_detected_at == timedelta(minutes=20)


def test_report_at_is_validated_with_file_and_line(tmp_path, receiver):
    from monitor.config.schema import json_schema
    from monitor.errors import ConfigError

    body = config_text(tmp_path / "c.db", receiver)
    assert load_config(write_config(tmp_path, body.replace("Mon 08:30", "sun 23:59")), env={}).route(
        "crisis").report_at == (6, 23, 59)
    path = write_config(tmp_path, body.replace("Mon 08:30", "Monday 8.30"))
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    line = body.splitlines().index('report_at = "Mon 08:30"') + 1
    assert [str(p) for p in err.value.problems] == [
        f"{path}:{line}: routes[0].report_at: must be a weekday and a local time such as \"Mon 08:30\", "
        "got 'Monday 8.30'"]
    pattern = re.compile(json_schema()["$defs"]["RouteModel"]["properties"]["report_at"]["pattern"])
    assert pattern.match("Mon 08:30") and not pattern.match("Monday 8.30")
