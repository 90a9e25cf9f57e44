"""The daemon as a real process, the score command, and the demo."""
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from monitor.cli import main
from monitor.demo import alerts_feed, run_demo
from monitor.store import Store
from tests.conftest import write_config
from tests.test_pipeline import KIND, NEGATIVE, config_text

pytestmark = pytest.mark.model


def test_daemon_pages_and_stops_gracefully_on_sigterm(tmp_path, feed_server, receiver):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", alerts_feed(KIND, now - timedelta(minutes=2)))  # history on the first poll
    secret_url = receiver.apprise_url.replace("json://", "json://crisis:s3cretpw@")
    text = config_text(tmp_path / "r.db", feed_server.url("/feed"), "${RECEIVER_URL}").replace('every = "5m"', 'every = "2s"')
    text = text.replace("notify = [", 'group_wait = "1s"\nnotify = [')  # the page is due at once, not after 30 s
    cfg = write_config(tmp_path, text + '\n[daemon]\njitter = "0s"\n')
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "RECEIVER_URL": secret_url})
    try:
        store, deadline = Store(f"sqlite:///{tmp_path / 'r.db'}"), time.monotonic() + 60
        while store.source_state("ga-dr-lin").last_success_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
        store.close()
        feed_server.set("/feed", alerts_feed(KIND + NEGATIVE, now - timedelta(minutes=2)))
        assert receiver.wait_for(1, timeout=60), "no page from the daemon"
        deadline = time.monotonic() + 20
        while len(feed_server.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(feed_server.requests) >= 3  # it keeps polling
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in err and "stopped" in err
    assert "態度很差" not in err and "s3cretpw" not in err  # no mention text, no secrets in logs
    assert "delivered to json://crisis:" in err
    assert len(receiver.received) == 1


def test_score_command_reads_stdin_writes_json_lines(monkeypatch, capsys):
    texts = "醫師態度很差,等了兩個小時\nThe staff were wonderful and kind.\n\n😡\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(texts))
    assert main(["score"]) == 0
    rows = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert len(rows) == 4
    assert rows[0]["label"] == "negative" and rows[1]["label"] == "positive"
    assert all(set(r) == {"label", "score", "negative"} for r in rows)


def test_score_command_with_missing_model_fails_clearly(tmp_path, capsys):
    assert main(["score", "--model", str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'} does not exist" in capsys.readouterr().err


def test_demo_runs_end_to_end(capsys):
    assert run_demo(fast=True) == 0
    out = capsys.readouterr().out
    assert "PAGE RECEIVED" in out
    assert "A123456789" not in out and "0912-345-678" not in out
    assert "hxxps" in out and "evil.example" not in out  # the review's links, defanged


STUCK = """
[[sources]]
id = "stuck"
type = "google_alerts"
url = "{url}"
every = "1s"
"""


def test_polls_go_on_while_processing_is_busy_and_a_stop_abandons_a_stuck_poll(tmp_path, feed_server, receiver):
    import threading

    from monitor.app import App
    from monitor.config import load_config
    from monitor.daemon import LAST_PROCESS, STOP_GRACE, Daemon
    from monitor.mention import FetchResult
    from tests.test_faults_daemon import wait_until

    now = datetime.now(timezone.utc).replace(microsecond=0)
    feed_server.set("/feed", alerts_feed(KIND, now - timedelta(minutes=2)))
    text = config_text(tmp_path / "r.db", feed_server.url("/feed"), receiver.apprise_url).replace('every = "5m"',
                                                                                                  'every = "1s"')
    cfg = write_config(tmp_path, text + STUCK.format(url=feed_server.url("/stuck")) + '\n[daemon]\nlisten = ""\n')
    app = App(load_config(cfg), scorer=None)
    stuck = threading.Event()
    app.connectors["stuck"].poll = lambda ctx: (stuck.wait(60), FetchResult("ok"))[1]
    daemon, until = Daemon(app), threading.Event()
    runner = threading.Thread(target=daemon.run, kwargs={"install_signals": False, "until": until})
    try:
        with app._process_lock:  # a process() that takes its time: the polls do not wait for it
            runner.start()
            assert wait_until(lambda: feed_server.requests.count("/feed") >= 3, 20), feed_server.requests
            assert wait_until(lambda: daemon.scheduler.stats.skipped >= 2, 10)  # the stuck poll is not queued
        started = time.monotonic()
        until.set()
        runner.join(timeout=30)
        took = time.monotonic() - started
        assert not runner.is_alive() and took < STOP_GRACE + LAST_PROCESS + 1, took
        assert daemon.processor.runs >= 1  # the last process ran
    finally:
        stuck.set()
        until.set()
        runner.join(timeout=30)
        app.close()
