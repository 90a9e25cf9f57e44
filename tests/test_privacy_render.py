from datetime import datetime, timedelta, timezone

import pytest

from monitor.privacy import mask_phi
from monitor.render import burst_message, safe_link, safe_text
from monitor.storage import StoredMention

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


def test_burst_message_masks_escapes_and_gives_the_deadline():
    m = StoredMention(1, "ga", "林志明 誤診", "誤診!身分證 A123456789 <a href='https://evil.example'>x</a>",
                      "https://forum.example.tw/t/3", T, T, "negative", 0.97)
    msg = burst_message("林志明醫師", [m], 3, 3, timedelta(hours=1), 3, True, T + timedelta(hours=1), "zh-TW",
                        timezone="Asia/Taipei")
    assert msg.title == "[repwatch] 林志明醫師:1h內 3 則負面提及"
    assert "A123456789" not in msg.body and "<a" not in msg.body and "https://evil.example" not in msg.body
    assert "https://forum.example.tw/t/3" in msg.body
    assert "2026-11-22 19:00 CST (11:00 UTC)" in msg.body
    en = burst_message("Dr. Lin", [m], 3, 3, timedelta(hours=1), 1, False, T + timedelta(hours=1), "en")
    assert "Update: 1 new" in en.body and "never confirm" in en.body
