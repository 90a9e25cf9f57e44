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
    assert main(["sources", "--config", str(cfg)]) == 1  # exit 1: a source is unhealthy (for cron checks)
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("feed")][0]
    assert "failing" in line and "expected a feed, got an HTML page" in line


@pytest.mark.model
def test_replay_command_then_poll_and_sources(tmp_path, receiver, monkeypatch, capsys):
    """`repwatch replay` (a real process) serves every connector's recordings; `repwatch
    poll` on the config it writes runs them all end to end; `repwatch sources` then shows
    each one healthy."""
    import json
    import subprocess
    import sys

    from monitor.replay import fixture_types, manifest

    cfg = tmp_path / "replay.toml"
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "replay", "--write-config", str(cfg),
                             "--storage", f"sqlite:///{tmp_path / 'r.db'}", "--notify", receiver.apprise_url,
                             "--seconds", "120"], stdout=subprocess.PIPE, text=True)
    try:
        env_lines = []
        for line in proc.stdout:
            if line.strip().startswith("export "):
                env_lines.append(line.strip()[7:])
            if line.startswith("then:"):
                break
        for name, value in (x.split("=", 1) for x in env_lines):
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        main(["poll", "--config", str(cfg), "--json"])
        report = json.loads(capsys.readouterr().out)
        by_id = {s["source_id"]: s for s in report["sources"]}
        assert set(by_id) == {f"replay-{t}" for t in fixture_types()}
        for t in fixture_types():
            s = by_id[f"replay-{t}"]
            assert s["status"] == "ok" and s["new"] == manifest(t)["expect_mentions"], s
        code = main(["sources", "--config", str(cfg), "--json"])
        shown = capsys.readouterr()
        assert code == 0, shown.out + shown.err
        assert {json.loads(x)["health"] for x in shown.out.splitlines()} == {"ok"}
    finally:
        proc.terminate()
        proc.wait(10)


def test_config_schema_prints_and_writes_the_json_schema(tmp_path, capsys):
    import json

    from monitor.config.schema import json_schema

    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    out = tmp_path / "repwatch.schema.json"
    assert main(["config", "schema", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text(encoding="utf-8")) == json_schema()


def test_db_current_and_upgrade(tmp_path, db_url, capsys):
    from monitor.store import migrate

    cfg = write_config(tmp_path, CFG.format(db="unused", feed="https://x.example/f", url="json://127.0.0.1:9/x")
                       .replace('url = "sqlite:///unused"', f'url = "{db_url}"'))
    assert main(["db", "current", "--config", str(cfg)]) == 0
    assert "revision none" in capsys.readouterr().out
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    assert f"created at revision {migrate.head()}" in capsys.readouterr().out
    assert migrate.current(db_url) == migrate.head()
    assert main(["db", "upgrade", "-c", str(cfg)]) == 0
    assert f"revision {migrate.head()}, up to date" in capsys.readouterr().out
    assert main(["db", "current", "-c", str(cfg)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"revision {migrate.head()}")


CONFIG_COMMANDS = (["run"], ["poll"], ["sources"], ["healthz"], ["mentions"],
                   ["label", "1", "--as", "neutral", "--by", "a"], ["test-notify", "r"], ["deliveries"],
                   ["digest", "r"], ["incidents"], ["ack", "1", "--by", "a"], ["resolve", "1", "--by", "a"], ["silence", "add", "k=\"v\"", "--by", "a"], ["silence", "list"],
                   ["silence", "expire", "1"], ["sentiment", "adapt"], ["db", "upgrade"], ["db", "current"])


@pytest.mark.parametrize("argv", CONFIG_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_command_that_reads_a_config_takes_config_and_c(argv):
    from monitor.cli import build_parser
    from monitor.cli.common import DEFAULT_CONFIG

    parser = build_parser()
    assert parser.parse_args(argv).config == DEFAULT_CONFIG
    assert parser.parse_args(argv + ["--config", "a.toml"]).config == "a.toml"
    assert parser.parse_args(argv + ["-c", "b.toml"]).config == "b.toml"
