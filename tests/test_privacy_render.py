from datetime import datetime, timedelta, timezone

import pytest

from monitor.privacy import mask_phi
from monitor.alerting.facts import BurstFacts
from monitor.render import AlertView, channel_of, incident_message, safe_link, safe_text
from monitor.store import StoredMention

T = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,leak,placeholder", [
    ("我的身分證字號是A123456789請查", "A123456789", "[ID]"),
    ("ID: b 212345678", "212345678", "[ID]"),
    ("請打 0912-345-678 或 0912345678 聯絡", "345-678", "[phone]"),
    ("市話 (02) 2345-6789", "2345-6789", "[phone]"),
    ("call +886 912 345 678 now", "345 678", "[phone]"),
    ("call me at 415-555-0132", "555-0132", "[phone]"),
    ("寄信到 wang.xiaoming@example.com", "wang.xiaoming", "[email]"),
    ("病歷號碼:12345678,醫生都不理", "12345678", "[chart no.]"),
    ("MRN 00123456 was mixed up", "00123456", "[chart no.]"),
    ("我生日 1985/03/14 被寫錯", "1985/03/14", "[date of birth]"),
    ("出生日期:民國74年3月14日", "74年3月14日", "[date of birth]"),
    ("DOB: March 14, 1985", "March 14, 1985", "[date of birth]"),
])
def test_phi_is_masked(text, leak, placeholder):
    out = mask_phi(text)
    assert leak not in out and placeholder in out


def test_ordinary_text_is_untouched():
    text = "等了2小時,看診3分鐘,2026年11月再也不去"
    assert mask_phi(text) == text


def test_untrusted_text_cannot_become_a_link_or_markup():
    out = safe_text("<https://evil.example/login|點此登入> [官方](http://evil.example) *bold* @channel &amp;\u202etxt.exe")
    for bad in ("<", ">", "[官方](", "http://", "https://", "evil.example/", "@channel", "\u202e", "*bold*"):
        assert bad not in out
    assert "hxxps[:]//evil[.]example" in out


def test_long_text_is_cut():
    assert len(safe_text("差" * 1000, 50)) == 50


def test_only_plain_http_links():
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("https://user:pw@evil.example/") is None
    assert safe_link("https://forum.example.tw/t/1?a=1") == "https://forum.example.tw/t/1?a=1"
    assert safe_link("https://x.example/a b<script>") == "https://x.example/a%20b%3Cscript%3E"


BURST = AlertView(BurstFacts(count=3, min=3, window=3600))
EVIL = StoredMention(1, "ga", "林志明 誤診", "誤診!身分證 A123456789 電話 0912-345-678 <a href='https://evil.example'>x</a> "
                     "[官方回覆](https://evil.example/login) *緊急* @channel",
                     "https://forum.example.tw/t/3", T, T, "negative", 0.97)


def test_page_masks_escapes_and_gives_the_deadline():
    msg = incident_message("page", 7, "critical", "林志明醫師", [BURST], [EVIL], T + timedelta(hours=1), T, "zh-TW",
                           timezone="Asia/Taipei", ack_url="https://rw.example/ack/7.1.sig")
    assert msg.title == "[repwatch] 林志明醫師:1 小時內 3 則負面提及"
    for body in (msg.text, msg.markdown, msg.html):
        assert "A123456789" not in body and "0912-345-678" not in body
        assert "<a href='https://evil" not in body and "https://evil.example" not in body
        assert "](https://evil" not in body and "@channel" not in body and "*緊急*" not in body
        assert "https://forum.example.tw/t/3" in body
        assert "https://rw.example/ack/7.1.sig" in body
    assert "2026-11-22 19:00 +08:00 (11:00 UTC)" in msg.text
    assert "事件 #7" in msg.text and "repwatch ack 7 --by" in msg.text
    en = incident_message("update", 7, "critical", "Dr. Lin", [BURST], [EVIL], T + timedelta(hours=1), T, "en")
    assert en.title.startswith("[repwatch] [update] Dr. Lin") and "never confirm" in en.text


def test_channel_formats():
    msg = incident_message("page", 7, "critical", "林志明醫師", [BURST], [EVIL], T + timedelta(hours=1), T, "en",
                           ack_url="https://rw.example/ack/7.1.sig")
    # Slack: CommonMark that apprise turns into mrkdwn; the only links are ours
    assert "[link](https://forum.example.tw/t/3)" in msg.markdown
    assert "[Acknowledge (take ownership):](https://rw.example/ack/7.1.sig)" in msg.markdown
    assert msg.markdown.count("](") == 2
    # e-mail: escaped HTML, links only as our own anchors
    assert msg.html.count("<a href=") == 2 and "<script" not in msg.html
    assert '<a href="https://forum.example.tw/t/3">' in msg.html
    assert msg.for_channel(channel_of("slack://T/B/C")) == ("markdown", msg.markdown)
    assert msg.for_channel(channel_of("mailtos://u:p@example.com")) == ("html", msg.html)
    assert msg.for_channel(channel_of("line://token/group")) == ("text", msg.text)
    assert channel_of("https://hooks.slack.com/services/T/B/C") == "slack"
    assert channel_of("json://127.0.0.1:9/page") == "text"


def test_line_text_stays_under_5000_characters_and_keeps_the_deadline_and_ack():
    many = [StoredMention(i, "ptt", "差" * 100, "很差" * 400, f"https://ptt.example/{i}", T, T, "negative", 0.9)
            for i in range(200)]
    msg = incident_message("page", 9, "critical", "林志明醫師", [BURST], many, T + timedelta(hours=1), T, "zh-TW",
                           ack_url="https://rw.example/ack/9.1.sig", top=200)
    assert len(msg.text) <= 5000
    assert "https://rw.example/ack/9.1.sig" in msg.text and "黃金一小時" in msg.text
    assert "未列出" in msg.text  # says how many were left out
