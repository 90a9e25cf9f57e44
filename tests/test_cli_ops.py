"""Operator commands: test-notify (against a local receiver) and sources."""
import pytest

from monitor.cli import main
from tests.conftest import write_config

CFG = """
[storage]
url = "sqlite:///{db}"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "feed"
type = "rss"
url = "{feed}"

[[routes]]
id = "crisis-team"
language = "en"
notify = ["{url}", "json://127.0.0.1:9/nothing-listens-here"]
"""


def test_test_notify_reports_each_url(tmp_path, receiver, capsys):
    cfg = write_config(tmp_path, CFG.format(db=tmp_path / "r.db", feed="https://x.example/f", url=receiver.apprise_url))
    assert main(["test-notify", "--config", str(cfg), "crisis-team"]) == 1  # the second URL fails
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": sent") and "FAILED" in out[1]
    assert receiver.wait_for(1, 5)
    assert receiver.received[0].payload["title"] == "[repwatch] test notification"
    assert main(["test-notify", "--config", str(cfg), "nobody"]) == 2


@pytest.mark.model
def test_sources_shows_health_after_a_failed_poll(tmp_path, feed_server, receiver, capsys, builtin_scorer):
    feed_server.set("/f", "<html><body>blocked?</body></html>", "text/html")
    cfg = write_config(tmp_path, CFG.format(db=tmp_path / "r.db", feed=feed_server.url("/f"), url=receiver.apprise_url))
    assert main(["sources", "--config", str(cfg)]) == 0
    assert "never" in capsys.readouterr().out
    assert main(["poll", "--config", str(cfg)]) == 1  # every source failed
    capsys.readouterr()
    assert main(["sources", "--config", str(cfg)]) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("feed")][0]
    assert "failing" in line and "expected a feed, got an HTML page" in line
