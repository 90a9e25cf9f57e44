"""zh-TW pages are fully localised (issue 17): no `critical`, `1h`, `link` or `CST` in any
channel's form; times carry a numeric offset; a countdown from the injected clock to the
deadline; one line that explains the score. The English pages say the same in English.
Masking and escaping still hold."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerting.facts import AttackFacts, BurstFacts, SevereFacts, SpikeFacts
from monitor.defence.attack import Bomb, Cluster, CrossPost
from monitor.render import AlertView, IncidentView, ack_message, digest_message, incident_message
from monitor.render.doc import local_time, span, time_left
from monitor.store import StoredMention

T = datetime(2026, 12, 2, 5, 5, tzinfo=timezone.utc)  # 13:05 in Taipei
DEADLINE = T + timedelta(minutes=45)
ALERTS = [AlertView(BurstFacts(count=3, min=3, window=3600)),
          AlertView(SpikeFacts(count=9, window=6 * 3600, baseline=14 * 86400, expected=1.5, ratio=6.0)),
          AlertView(SevereFacts(score=0.99, terms=("lawsuit",), severe_score=True))]
MENTIONS = [StoredMention(1, "ga", "林志明 誤診", "誤診!電話 0912-345-678 <b>x</b> [官方](https://evil.example/login)",
                          "https://forum.example.tw/t/3", T, T, "negative", 0.96),
            StoredMention(2, "ptt", "", "等了兩小時", "https://ptt.example/t/4", T, T, "negative", 0.81)]
ATTACK = AlertView(AttackFacts(signals=("near-duplicate", "rating-bomb", "cross-posting"),
                               clusters=(Cluster((1, 2), ("ga", "ptt"), ("user-a", "user-b"), 0.81, 0.9),),
                               bomb=Bomb("google", (1, 2), 7, 5, 3, 0.14, 1e-6, 2.0),
                               cross_posts=(CrossPost("user-a", ("ga", "ptt"), (1, 2)),),
                               window=86400, baseline=28 * 86400))
ENGLISH = re.compile(r"critical|\b\d+[hmd]\b|\d+[hmd]\d|link|CST", re.IGNORECASE)


def pages(language: str):
    for kind in ("page", "update", "repeat", "escalation"):
        yield incident_message(kind, 7, "critical", "林志明醫師", ALERTS, MENTIONS, DEADLINE, T, language,
                               timezone="Asia/Taipei", ack_url="https://rw.example/ack/7.1.sig",
                               escalated_to="director", escalate_after=timedelta(minutes=15))
    yield incident_message("page", 8, "warning", "仁心診所", ALERTS[:1], MENTIONS, T - timedelta(minutes=5), T,
                           language, timezone="Asia/Taipei")  # past its deadline
    yield incident_message("page", 9, "critical", "林志明醫師", [ATTACK], MENTIONS, DEADLINE, T, language,
                           timezone="Asia/Taipei")
    yield ack_message(7, "林志明醫師", "王小明", "link", T, T - timedelta(hours=1, minutes=20), DEADLINE, language,
                      timezone="Asia/Taipei")
    yield digest_message("2026-12-02", [("林志明醫師", 4, 2)], [("ga", 4, 2)], MENTIONS,
                         [IncidentView(7, "林志明醫師", "open", None, DEADLINE)], language, timezone="Asia/Taipei")


def test_zh_tw_pages_have_no_english_tokens_in_any_channel():
    for msg in pages("zh-TW"):
        for body in (msg.title, msg.text, msg.markdown, msg.html):
            assert not ENGLISH.findall(body.replace("https://", "").replace("repwatch", "")), (msg.title, body)


def test_zh_tw_page_has_countdown_offset_and_score_line():
    msg = next(pages("zh-TW"))
    assert msg.title == "[repwatch] 林志明醫師:1 小時內 3 則負面提及 等 2 項警示"
    assert "嚴重度 緊急" in msg.text
    assert "請在 2026-12-02 13:50 +08:00 (05:50 UTC) 前確認並回應(剩 45 分鐘)" in msg.text
    assert "負面分數 0.96:模型判斷這則提及對名譽不利的信心(0–1)" in msg.text
    assert "過去 6 小時內有 9 則負面提及;依過去 14 天的基準" in msg.text
    assert "[連結](https://forum.example.tw/t/3)" in msg.markdown
    attack = list(pages("zh-TW"))[5]
    assert "過去 1 天內發現疑似協同攻擊的跡象" in attack.text and "依過去 28 天的 3 則推算" in attack.text
    escalation = list(pages("zh-TW"))[3]
    assert "此事件在 15 分鐘內無人確認" in escalation.text
    ack = list(pages("zh-TW"))[6]
    assert "用時 1 小時 20 分鐘" in ack.text and "2026-12-02 13:05 +08:00" in ack.text


def test_english_page_says_the_same():
    msg = next(pages("en"))
    assert "severity critical" in msg.text
    assert "before 2026-12-02 13:50 +08:00 (05:50 UTC) (45 min left)" in msg.text
    assert "Negative score 0.96: the model's confidence (0–1) that the mention harms your reputation" in msg.text
    assert "[link](https://forum.example.tw/t/3)" in msg.markdown
    assert "CST" not in msg.text


def test_countdown_follows_the_injected_clock():
    assert time_left(DEADLINE, T, "zh-TW") == "剩 45 分鐘"
    assert time_left(DEADLINE, T + timedelta(minutes=44, seconds=1), "zh-TW") == "剩不到 1 分鐘"
    assert time_left(T + timedelta(hours=1, minutes=5), T, "zh-TW") == "剩 1 小時 5 分鐘"
    assert time_left(DEADLINE, T + timedelta(minutes=15), "en") == "30 min left"
    later = incident_message("repeat", 7, "critical", "林志明醫師", ALERTS[:1], MENTIONS, DEADLINE,
                             T + timedelta(minutes=30), "zh-TW", timezone="Asia/Taipei")
    assert "(剩 15 分鐘)" in later.text


@pytest.mark.parametrize("value,zh,en", [
    (timedelta(hours=1), "1 小時", "1h"), (timedelta(minutes=90), "1 小時 30 分鐘", "1h30m"),
    (timedelta(days=14), "14 天", "14d"), (timedelta(seconds=30), "30 秒", "30s"),
])
def test_spans(value, zh, en):
    assert span(value, "zh-TW") == zh and span(value, "en") == en


def test_local_time_shows_the_offset_not_an_abbreviation():
    assert local_time(T, "Asia/Taipei") == "2026-12-02 13:05 +08:00 (05:05 UTC)"
    assert local_time(T, "Asia/Taipei", False) == "2026-12-02 13:05 +08:00"
    assert local_time(T, "America/Chicago", False) == "2026-12-01 23:05 -06:00"  # CST there too
    assert local_time(T, "UTC") == "2026-12-02 05:05 UTC"


def test_masking_and_escaping_hold_in_the_localised_pages():
    for msg in pages("zh-TW"):
        for body in (msg.text, msg.markdown, msg.html):
            assert "0912-345-678" not in body and "https://evil.example" not in body
            assert "<b>x</b>" not in body and "](https://evil" not in body
