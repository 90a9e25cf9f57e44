"""Fixture replay end to end, and source health: blocked, auth-failed, failing and silent
sources each produce one ops notice to the ops route, and never a crisis page."""
from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from connectors.http import HostLimiter
from monitor.units import parse_rate
from monitor.app import App
from monitor.config import load_config
from monitor.errors import ConfigError
from monitor.replay import REPLAY_ENTITIES, ReplayServer, _toml_value, fixture_types, manifest
from monitor.store import Store
from tests.conftest import write_config

CHALLENGE = b"<html><head><title>Just a moment...</title></head><body>cf-chl-widget</body></html>"


def config_for(tmp_path, servers, receiver, source_extra=None, daemon_extra="", env_override=None, name="rw.toml"):
    lines = [f'[storage]\nurl = "sqlite:///{tmp_path / "rw.db"}"\n',
             f'[daemon]\nops_route = "ops"\nfailures_before_notice = 3\n{daemon_extra}\n', REPLAY_ENTITIES]
    env = {}
    for server in servers:
        table = server.source_table(source_id=server.ctype)
        table.update((source_extra or {}).get(server.ctype, {}))
        lines.append("[[sources]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in table.items()))
        env.update(server.env)
    env.update(env_override or {})
    lines.append(f'[[routes]]\nid = "crisis"\nnotify = ["json://127.0.0.1:{receiver.port}/crisis"]\n')
    lines.append(f'[[routes]]\nid = "ops"\nnotify = ["json://127.0.0.1:{receiver.port}/ops"]\nlanguage = "en"\n')
    lines.append('[[rules]]\nid = "burst"\nroute = "crisis"\nmin_negative = 50\nwindow = "1h"\n')
    path = tmp_path / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return load_config(path, env=env)


def paths(receiver):
    return [r.path for r in receiver.received]


@pytest.mark.model
@pytest.mark.parametrize("ctype", fixture_types())
def test_every_connector_end_to_end_in_replay(ctype, tmp_path, clock, receiver, builtin_scorer):
    """HTTP on 127.0.0.1 -> connector -> matching -> SQLite -> scoring, for each connector."""
    with ReplayServer(ctype) as server:
        config = config_for(tmp_path, [server], receiver)
        app = App(config, scorer=builtin_scorer, clock=clock)
        try:
            report = app.poll_source(ctype)
            assert report.status == "ok", report.error
            assert report.fetched == manifest(ctype)["expect_mentions"]
            assert report.new == report.matched == report.fetched  # every recorded mention names an entity
            processed = app.process()
            assert processed.scored == report.new and processed.score_error is None
            stored = app.store.mentions(limit=100)
            assert len(stored) == report.new and all(m.label for m in stored)
            warned = app.store.source_state(ctype).last_warnings
            assert (warned or None) == ("\n".join(report.warnings) or None)  # recorded against the source
            again = app.poll_source(ctype)
            assert again.new == 0  # stored once, whatever the connector returns the second time
        finally:
            app.close()
    assert receiver.received == []  # no crisis page, no ops notice: everything was healthy


def test_blocked_source_one_ops_notice_then_repeat_then_recovered(tmp_path, clock, receiver, fake_scorer):
    with ReplayServer("dcard") as server:
        config = config_for(tmp_path, [server], receiver, daemon_extra='notice_repeat = "6h"')
        app = App(config, scorer=fake_scorer, clock=clock)
        server.override(403, CHALLENGE, "text/html")
        assert app.poll_source("dcard").status == "blocked"
        app.process()
        app.process()
        assert paths(receiver) == ["/ops"]
        notice = receiver.received[0].payload
        assert "dcard" in notice["title"] and "blocked" in notice["title"]
        assert app.health()["dcard"].state == "blocked"
        clock.advance(timedelta(minutes=30))
        assert app.poll_source("dcard").status == "skipped"  # backing off (1 h)
        clock.advance(timedelta(hours=6))
        assert app.poll_source("dcard").status == "blocked"
        app.process()
        assert paths(receiver) == ["/ops", "/ops"]  # repeats until the source recovers
        server.reset()
        clock.advance(timedelta(hours=1, minutes=1))
        assert app.poll_source("dcard").status == "ok"
        app.process()
        assert paths(receiver) == ["/ops"] * 3 and "recovered" in receiver.received[-1].payload["title"]
        app.process()
        assert len(receiver.received) == 3
        app.close()


def test_auth_failure_stops_polling_until_config_changes(tmp_path, clock, receiver, fake_scorer):
    with ReplayServer("yelp") as server:
        server.override(401, b'{"error": {"code": "TOKEN_INVALID", "description": "Invalid access token"}}')
        config = config_for(tmp_path, [server], receiver)
        app = App(config, scorer=fake_scorer, clock=clock)
        assert app.poll_source("yelp").status == "auth_failed"
        app.process()
        assert paths(receiver) == ["/ops"] and "auth-failed" in receiver.received[0].payload["title"]
        asked = len(server.requests)
        clock.advance(timedelta(hours=2))
        skipped = app.poll_source("yelp")
        assert skipped.status == "skipped" and "config or credentials change" in skipped.error
        assert len(server.requests) == asked  # nothing sent with refused credentials
        app.process()
        assert len(receiver.received) == 1
        app.close()
        # the admin rotates the key: a new digest, so polling resumes on the same database
        server.reset()
        config2 = config_for(tmp_path, [server], receiver, env_override={"YELP_API_KEY": "rotated-key"})
        assert config2.source("yelp").digest != config.source("yelp").digest
        app2 = App(config2, scorer=fake_scorer, clock=clock)
        assert app2.poll_source("yelp").status == "ok"
        app2.process()
        assert "recovered" in receiver.received[-1].payload["title"]
        app2.close()


def test_failing_source_noticed_after_n_failures_only(tmp_path, clock, receiver, fake_scorer):
    with ReplayServer("x") as server:
        server.override(500, b"internal error")
        config = config_for(tmp_path, [server], receiver)
        from connectors.http import HttpPolicy

        app = App(config, scorer=fake_scorer, clock=clock, policy=HttpPolicy(attempts=1, sleep=lambda s: None))
        for i in range(1, 4):
            assert app.poll_source("x").status == "failed"
            app.process()
            assert len(receiver.received) == (1 if i == 3 else 0), i
            clock.advance(timedelta(minutes=10))
        body = receiver.received[0].payload["message"]
        assert "Consecutive failures: 3" in body and "HTTP 500" in body
        app.close()


def test_silent_source_is_noticed(tmp_path, clock, receiver, fake_scorer):
    with ReplayServer("rss") as server:
        config = config_for(tmp_path, [server], receiver, source_extra={"rss": {"silent_after": "2h"}})
        app = App(config, scorer=fake_scorer, clock=clock)
        assert app.poll_source("rss").new == 2
        app.process()
        clock.advance(timedelta(hours=1))
        app.poll_source("rss")  # same feed: nothing new
        app.process()
        assert receiver.received == []
        clock.advance(timedelta(hours=1, minutes=5))
        app.poll_source("rss")
        app.process()
        app.process()
        assert paths(receiver) == ["/ops"]
        assert "silent" in receiver.received[0].payload["title"]
        assert app.health()["rss"].state == "silent"
        app.close()


def test_learned_silence_needs_history(tmp_path, clock):
    from monitor.config import Source
    from monitor.health import expected_period
    from monitor.store import SourceStateRow

    src = Source(id="s", type="rss", url="https://x", every=timedelta(minutes=15))
    young = SourceStateRow(source_id="s", total_mentions=3, first_new_at=clock.now(), last_new_at=clock.now())
    assert expected_period(src, young) is None
    busy = SourceStateRow(source_id="s", total_mentions=41, first_new_at=clock.now() - timedelta(days=10),
                          last_new_at=clock.now())
    assert expected_period(src, busy) == timedelta(days=10) / 40 * 5  # 5 x the average gap (6 h floor)


def test_ops_route_must_exist_and_options_are_typed(tmp_path):
    path = write_config(tmp_path, """
        [daemon]
        ops_route = "nowhere"
        [[entities]]
        id = "a"
        name = "安心診所"
        [[sources]]
        id = "y"
        type = "yelp"
        business_id = 42
        [[sources]]
        id = "h"
        type = "html"
        url = "https://reviews.example.tw/anxin"
        item = "div..review"
        text = "p"
        [[sources]]
        id = "m"
        type = "mastodon"
        query = "安心診所"
    """)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    text = str(exc.value)
    assert "daemon.ops_route: undefined route 'nowhere'" in text
    assert "sources[0].business_id: must be a string, got 42" in text
    assert "sources[0].api_key_env: environment variable YELP_API_KEY is not set" in text
    assert "sources[1].item: invalid CSS selector" in text
    assert "sources[2].url: is required" in text  # a Mastodon source names its instance
    assert ":10: sources[0].business_id" in text  # file:line: key


def test_api_source_defaults_to_platform_url_and_secret_stays_out_of_repr(tmp_path):
    path = write_config(tmp_path, """
        [[entities]]
        id = "a"
        name = "安心診所"
        [[sources]]
        id = "y"
        type = "yelp"
        business_id = "anxin-clinic-taipei"
    """)
    src = load_config(path, env={"YELP_API_KEY": "s3cret-yelp"}).sources[0]
    assert src.url == "https://api.yelp.com"
    assert src.secrets == {"api_key_env": "s3cret-yelp"}
    assert "s3cret" not in repr(src)


def test_old_database_gains_new_columns_without_losing_rows(tmp_path):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE source_state (source_id VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, etag VARCHAR, "
                "last_modified VARCHAR, cursor VARCHAR, last_poll_at DATETIME, last_success_at DATETIME, last_error TEXT, "
                "last_error_at DATETIME, consecutive_failures INTEGER NOT NULL, not_before DATETIME, "
                "last_new_mentions INTEGER NOT NULL, total_mentions INTEGER NOT NULL)")
    con.execute("INSERT INTO source_state VALUES ('feed', 'ok', '\"e\"', NULL, '2026-11-01T00:00:00+00:00', NULL, NULL, "
                "NULL, NULL, 0, NULL, 2, 17)")
    con.commit()
    con.close()
    store = Store(f"sqlite:///{db}")
    row = store.source_state("feed")
    assert row.total_mentions == 17 and row.etag == '"e"' and row.notice_state is None and row.config_digest is None
    store.close()


def test_host_limiter_spaces_requests_per_host():
    now = [0.0]
    waits = []

    def sleep(s):
        waits.append(s)
        now[0] += s

    lim = HostLimiter({"api.example": parse_rate("2/1s")}, sleep=sleep, monotonic=lambda: now[0])
    for _ in range(4):
        lim.acquire("api.example")
    lim.acquire("other.example")  # no limit configured for this host
    assert waits == [0.5, 0.5]
    assert lim.rate_for("oauth.reddit.com") == (100, 60.0)
    with pytest.raises(ValueError):
        parse_rate("fast")
