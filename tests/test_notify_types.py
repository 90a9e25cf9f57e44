"""apprise's notify type and repwatch's name on what is sent (issue 17): a critical page goes
out as ``failure``, an acknowledgement as ``success``; the JSON webhook carries the type, and a
Slack webhook (captured by a local server standing in for hooks.slack.com) the type's colour,
the footer "repwatch" and no apprise icon."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitor.notify import Notifier, notify_type
from tests.test_workflow import ENV, incidents, make, page_once  # noqa: F401  (make: a fixture)


@pytest.mark.parametrize("kind,severity,state,expected", [
    ("page", "critical", None, "failure"),
    ("escalation", "critical", None, "failure"),
    ("repeat", "warning", None, "warning"),
    ("update", "info", None, "info"),
    ("ops", "warning", "failing", "warning"),
    ("ops", "warning", "recovered", "success"),
    ("ack", "critical", None, "success"),
    ("digest", None, None, "info"),
    ("report", None, None, "info"),
])
def test_notify_type_follows_kind_and_severity(kind, severity, state, expected):
    assert notify_type(kind, severity, state) == expected


def test_a_critical_page_is_a_failure_and_its_ack_a_success_on_the_json_webhook(make, clock, receiver):
    app = make()
    inc = page_once(app, clock, receiver)
    assert inc.severity == "critical"
    page = receiver.at("/crisis")[0]
    assert page["type"] == "failure" and page["title"].startswith("[repwatch]")
    app.dispatcher.ack(inc.id, "Amy")
    app.outbox.run()
    assert receiver.wait_for(2, 5)
    acks = [p for p in receiver.at("/crisis")[1:]]
    assert len(acks) == 1 and acks[0]["type"] == "success", acks


class SlackHook(BaseHTTPRequestHandler):
    """Answers like hooks.slack.com ("ok") and keeps what was posted."""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posted.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackHook)
    server.posted = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("kind", ["failure", "warning", "info", "success"])
def test_slack_gets_the_types_colour_the_repwatch_footer_and_no_apprise_icon(slack_hook, monkeypatch, kind):
    from apprise.plugins.slack import NotifySlack

    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{slack_hook.server_port}/services")
    res = Notifier(timeout=5).send("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "[repwatch] t",
                                   "**body**", "markdown", notify_type=kind)
    assert res.ok, res.error
    [(path, posted)] = slack_hook.posted
    assert path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    attachment = posted["attachments"][0]
    colours = {"failure": "#A32037", "warning": "#CACF29", "info": "#3AA3E3", "success": "#3AA337"}
    assert attachment["color"] == colours[kind]
    assert attachment["footer"] == "repwatch"
    assert "icon_url" not in posted and "footer_icon" not in attachment
    assert "apprise" not in str(posted).lower()
