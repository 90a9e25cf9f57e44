"""E-mail pages (issue 17): a whole HTML document, and a plain-text part that still shows the ack
URL. Sent for real through apprise's mailto:// to a local SMTP server (aiosmtpd in a thread);
the received MIME message is parsed."""
from __future__ import annotations

import email
import socket
import threading
from datetime import datetime, timedelta, timezone
from email import policy
from html.parser import HTMLParser

import pytest

from monitor.alerting.facts import BurstFacts
from monitor.notify import Notifier
from monitor.render import AlertView, channel_of, incident_message
from monitor.store import StoredMention

T = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
ACK = "https://rw.example/ack/7.1.sig"
EVIL = StoredMention(1, "ga", "林志明 誤診", "誤診!電話 0912-345-678 <script>alert(1)</script> [官方](https://evil.example/x)",
                     "https://forum.example.tw/t/3", T, T, "negative", 0.97)


class Inbox:
    """aiosmtpd's handler: keeps each message's raw bytes."""

    def __init__(self):
        self.messages: list[bytes] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope.content)
        self.arrived.set()
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, f"mailto://127.0.0.1:{port}?from=repwatch@clinic.example&to=crisis@clinic.example&mode=insecure"
    controller.stop()


class Shape(HTMLParser):
    """The element names in document order, and the doctype."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.doctype = ""
        self.attrs: dict[str, dict] = {}

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.setdefault(tag, dict(attrs))


@pytest.mark.parametrize("language", ["zh-TW", "en"])
def test_an_emailed_page_is_a_whole_html_document_and_its_text_part_keeps_the_ack_url(smtp, language):
    inbox, url = smtp
    msg = incident_message("page", 7, "critical", "林志明醫師", [AlertView(BurstFacts(count=3, min=3, window=3600))],
                           [EVIL], T + timedelta(hours=1), T, language, timezone="Asia/Taipei", ack_url=ACK)
    fmt, body = msg.for_channel(channel_of(url))
    assert fmt == "html"
    result = Notifier(timeout=5).send(url, msg.title, body, fmt, notify_type="failure")
    assert result.ok, result.error
    assert inbox.arrived.wait(5)
    received = email.message_from_bytes(inbox.messages[0], policy=policy.default)
    assert received.get_content_type() == "multipart/alternative"
    assert received["Subject"] == msg.title
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert ACK in text  # apprise's text part: the ack URL is visible, not only a link's label
    assert "https://forum.example.tw/t/3" in text
    shape = Shape()
    shape.feed(html)
    assert shape.doctype.lower() == "doctype html"
    assert shape.tags[:4] == ["html", "head", "meta", "meta"] and "body" in shape.tags
    assert shape.attrs["html"]["lang"] == language and shape.attrs["meta"]["charset"] == "utf-8"
    assert html.count("<title>") == 1 and f"<title>{msg.title}</title>" in html
    assert html.rstrip().endswith("</html>")
    for part in (text, html):  # masking and defanging hold in both parts
        assert "0912-345-678" not in part and "<script>" not in part and "https://evil.example" not in part
    assert html.count("<a href=") == 2
