"""The dashboard's whole loop in headless Chromium (Debian's /usr/bin/chromium driven by
Playwright with that executable; issue 17, "Done when"): the REAL daemon (`repwatch run`,
built-in model, SQLite, apprise to a local receiver) polls a local Google Alerts feed;
an unauthenticated /mentions shows the login page; a responder signs in; a burst of
negative reviews is replayed into the feed and appears on the overview as an open
incident; the responder opens it, acknowledges it and sees the time-to-ack; a POST
without the CSRF token gets 403.

Skipped only where /usr/bin/chromium (or Playwright) is missing and ``CI`` is unset; in
CI that is a failure.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from monitor.demo import TIMELINE, alerts_feed, demo_config
from monitor.web.users import Users
from tests.conftest import write_config
from tests.test_faults_daemon import free_port, healthz, wait_until

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "a long responder password"


def _playwright():
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "playwright is not installed (pip install -e .[test])"
        sync_playwright = None
    if reason and os.environ.get("CI"):
        pytest.fail(f"the browser test must run in CI: {reason}")
    if reason:
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def daemon(tmp_path, feed_server, receiver):
    port = free_port()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", alerts_feed(TIMELINE[:3], now - timedelta(minutes=5)))  # history: never paged
    db = tmp_path / "browser.db"
    cfg = write_config(tmp_path, demo_config(feed_server.url("/feed"), receiver.apprise_url, db, "2s", port, "1s"))
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # a quick hash for the test's user
    Users(tmp_path / "repwatch-users.json", cheap).add("crisis", PASSWORD, "responder")
    log_path = tmp_path / "daemon.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "REPWATCH_ACK_SECRET": "browser-test-secret-0123456789"}
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(cfg)],
                                stdout=subprocess.DEVNULL, stderr=log_file, env=env)
    try:
        assert wait_until(lambda: _answers(port), 90), log_path.read_text()
        assert wait_until(lambda: feed_server.requests.count("/feed") >= 1, 60), log_path.read_text()
        yield f"http://127.0.0.1:{port}", feed_server, log_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 0, log_path.read_text()


def _answers(port: int) -> bool:
    try:
        return healthz(port, timeout=1)[0] == 200
    except OSError:
        return False


@pytest.mark.model
def test_sign_in_see_the_burst_acknowledge_it(daemon):
    sync_playwright = _playwright()
    base, feed_server, log_path = daemon
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(locale="en-US", timezone_id="Asia/Taipei")
            page = context.new_page()
            page.set_default_timeout(15_000)

            page.goto(f"{base}/mentions")  # not signed in: the login page
            assert "/login?next=" in page.url and page.locator('input[type="password"]').count() == 1
            page.fill('input[name="name"]', "crisis")
            page.fill('input[name="password"]', PASSWORD)
            page.click('button[type="submit"]')
            page.wait_for_url(f"{base}/mentions")
            assert page.locator("main").get_attribute("data-state") == "mentions"

            page.goto(f"{base}/")
            assert page.locator("tr[data-incident]").count() == 0

            now = datetime.now(timezone.utc).replace(microsecond=0)
            feed_server.set("/feed", alerts_feed(TIMELINE, now - timedelta(minutes=1)))  # the replayed burst

            def burst_shown() -> bool:
                page.reload()
                return page.locator("tr[data-incident]").count() == 1

            assert wait_until(burst_shown, 120, step=1.0), log_path.read_text()[-3000:]
            row = page.locator("tr[data-incident]")
            assert "林志明醫師" in row.inner_text() and "min left" in row.inner_text()
            assert int(page.locator('section[data-entity="dr-lin"]').get_attribute("data-week")) >= 3

            row.locator("a").click()
            page.wait_for_url(re.compile(r".*/incidents/\d+$"))
            incident_url = page.url
            assert page.locator("#status").inner_text() == "open"
            assert page.locator('tr[data-kind="ev.delivery"]').count() >= 1
            page.click("#ack")
            page.wait_for_url(incident_url)
            tta = page.locator("#time-to-ack")
            assert tta.is_visible() and re.match(r"Time to acknowledge: \d+ min", tta.inner_text())
            assert page.locator("#status").inner_text() == "acknowledged"
            assert page.locator('tr[data-kind="ev.acked"]').inner_text().count("crisis (web)") == 1

            forged = context.request.post(f"{incident_url}/resolve", form={"by": "crisis"})  # the session, no token
            assert forged.status == 403
            page.reload()
            assert page.locator("#status").inner_text() == "acknowledged"  # nothing was resolved
        finally:
            browser.close()
