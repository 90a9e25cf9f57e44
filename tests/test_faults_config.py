"""Issue 14, items 5, 7 and 9: secrets never leave the process, out-of-range values are
config problems with their line, and commands that neither poll nor send need storage only.

Real SQLite files, apprise posting to a local receiver, the real CLI; the daemon side is an
App on an injected clock."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from monitor.app import App
from monitor.cli import main
from monitor.clock import ManualClock, SystemClock
from monitor.config import MAX_DURATION, load_config, parse_duration
from monitor.alerting.dispatch import Dispatcher
from monitor.errors import ConfigError
from monitor.notify import Notifier, redact, secret_parts
from monitor.outbox import Outbox
from monitor.render import Message
from monitor.store import DeliveryRow, IncidentRow, Store
from tests.conftest import write_config
from tests.test_workflow import add, step

# --------------------------------------------------------------------------- 5. secrets

HOOK, QUERY, HEADER = "hk9Secret0Path0Token", "ak9Secret0Query0Value", "hd9Secret0Header0Value"
SECRETS = (HOOK, QUERY, HEADER)


def test_redact_masks_what_apprise_privacy_shows_in_full():
    url = f"json://bob:pw9Secret0@127.0.0.1:9/hook/{HOOK}?-apikey={QUERY}&+X-Api-Key={HEADER}"
    shown = redact(url)
    assert shown.startswith("json://bob:***@127.0.0.1:9/***/***?") and "X-Api-Key=***" in shown
    assert "-apikey=***" in shown
    assert not any(s in shown for s in (*SECRETS, "pw9Secret0", "hook"))
    assert set(secret_parts(url)) >= {HOOK, QUERY, HEADER, "pw9Secret0"}
    for scheme in ("form", "xml", "jsons"):
        assert HOOK not in redact(f"{scheme}://example.com/{HOOK}")
    slack = redact("slack://T0AAAAAAA/B0BBBBBBB/CCCCCCCCCCCCCCCCCCCCCCCC")  # apprise's own privacy form
    assert slack.startswith("slack://T...A/B...B/C...C") and "CCCCCCCC" not in slack
    assert redact("line://${LINE_TOKEN}/${LINE_GROUP}") == "line://***/***"  # a template, variables unset


SECRET_CFG = """
[storage]
url = "sqlite:///{db}"

[daemon]
listen = ""

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[routes]]
id = "crisis"
language = "en"
notify = ["json://127.0.0.1:{port}/hook/${{HOOK_TOKEN}}?-apikey=${{API_KEY}}&+X-Api-Key=${{HDR_KEY}}",
          "json://127.0.0.1:{port}/down/${{HOOK_TOKEN}}"]
"""


def test_secrets_in_json_path_and_options_never_leave_the_process(tmp_path, receiver, caplog, capsys, monkeypatch):
    env = {"HOOK_TOKEN": HOOK, "API_KEY": QUERY, "HDR_KEY": HEADER}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    receiver.fail_paths[f"/down/{HOOK}"] = 503
    cfg = write_config(tmp_path, SECRET_CFG.format(db=tmp_path / "s.db", port=receiver.port))
    config = load_config(cfg)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="repwatch")  # whatever an earlier test left on repwatch's logger
    caplog.set_level(logging.INFO, logger="repwatch.outbox")
    for name in ("repwatch", "repwatch.outbox"):  # a library's dictConfig may have disabled existing loggers
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    caplog.set_level(logging.DEBUG, logger="apprise")  # apprise's debug lines print the URL it loads
    clock = ManualClock(SystemClock().now())
    store = Store(config.storage.url)
    try:
        Dispatcher(config, store, clock).notify(config.route("crisis"), "ops", Message("t", "body"))
        report = Outbox(config, store, Notifier(timeout=5), clock).run()
        rows = store.rows(DeliveryRow)
    finally:
        store.close()
    assert (report.sent, report.failed) == (1, 1)
    got = receiver.received[0]  # the secrets did reach the receiver: the test is not vacuous
    assert got.path.startswith(f"/hook/{HOOK}") and f"apikey={QUERY}" in got.path
    assert got.headers.get("X-Api-Key") == HEADER
    assert receiver.refused == [f"/down/{HOOK}"]
    stored = " ".join(f"{d.target} {d.last_error}" for d in rows)
    assert "503" in stored  # apprise's reason is kept
    logs = caplog.text
    assert "delivered to json://127.0.0.1" in logs and "failed" in logs
    assert main(["deliveries", "--config", str(cfg)]) == 0  # one sent, one retrying
    assert main(["deliveries", "--json", "--config", str(cfg)]) == 0
    assert main(["test-notify", "--config", str(cfg), "crisis"]) == 1
    out = capsys.readouterr()
    shown = out.out + out.err
    assert "json://127.0.0.1" in shown and "sent" in shown and "FAILED" in shown
    for text in (stored, logs, shown):
        assert not any(s in text for s in SECRETS), text


def test_deliveries_masks_targets_stored_by_an_older_version(tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path, SECRET_CFG.format(db=tmp_path / "o.db", port=9))
    store = Store(f"sqlite:///{tmp_path / 'o.db'}")
    from monitor.store import NotificationRow

    now = SystemClock().now()
    note = NotificationRow(route_id="crisis", kind="ops", created_at=now, language="en", title="t", text="b")
    store.create_notification(note, [("crisis", 0, f"json://127.0.0.1:9/hook/{HOOK}?-apikey={QUERY}")])
    store.close()
    assert main(["deliveries", "--json", "--config", str(cfg)]) == 0  # needs no secret either
    row = json.loads(capsys.readouterr().out)
    assert row["target"] == "json://127.0.0.1:9/***/***?-apikey=***"


BASE = """
[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[routes]]
id = "crisis"
notify = ["{url}"]
"""
URL_ENV = {"SLACK_URL": "https://hooks.slack.com/services/T0AAAA/B0BBBB/XXXXXXXXXXXX", "LINE_TOKEN": "tokTOKtok",
           "LINE_GROUP": "C1234567", "SLACK_C": "XXXXXXXXXXXX", "HOOK": HOOK, "KEY": QUERY, "TG": "123456:ABCdefGHI",
           "SMTP_USER": "u", "SMTP_PASSWORD": "p", "SMTP_HOST": "smtp.example.com", "CRISIS_EMAIL": "c@example.com"}


def url_problems(tmp_path, url, env=URL_ENV, **kw):
    try:
        load_config(write_config(tmp_path, BASE.format(url=url)), env=env, **kw)
    except ConfigError as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize("url,secret", [
    ("slack://T0AAAA/B0BBBB/XXXXXXXXXXXX", "XXXXXXXXXXXX"),
    ("https://hooks.slack.com/services/T0AAAA/B0BBBB/XXXXXXXXXXXX", "XXXXXXXXXXXX"),
    ("slack://T0AAAA/B0BBBB/${SLACK_C}", "T0AAAA"),  # part of the webhook literal is enough
    ("line://TOKENTOKEN/Uabcdef", "TOKENTOKEN"),
    ("line://${LINE_TOKEN}/C9999999", "C9999999"),
    ("tgram://123456:ABCdefGHI/12345", "ABCdefGHI"),
    ("discord://1234567/abcdefTOKEN", "abcdefTOKEN"),
    ("mailtos://bob:hunter2@example.com", "hunter2"),
    ("json://127.0.0.1:9/hook/9f2c1a7e4b8d4e0f", "9f2c1a7e4b8d4e0f"),
    ("json://127.0.0.1:9/hook?-apikey=lit3ral", "lit3ral"),
    ("json://127.0.0.1:9/hook?+X-Api-Key=lit3ral", "lit3ral"),
    ("json://127.0.0.1:9/hook?+Authorization=Bearer%20lit3ral", "lit3ral"),
    ("xml://127.0.0.1:9/hook?-sig=a1b2c3d4e5f6a7b8c9", "a1b2c3d4e5f6a7b8c9"),
    ("ntfy://example.com/topic?token=tk_lit3ral", "tk_lit3ral"),
])
def test_check_config_refuses_secrets_written_into_the_file(tmp_path, url, secret):
    out = url_problems(tmp_path, url)
    path = tmp_path / "repwatch.toml"
    assert len(out) == 1 and out[0].startswith(f"{path}:8: routes[0].notify: URL #1 has a credential written into "
                                               f"the file"), out
    assert "${VAR}" in out[0] and secret not in out[0]
    # the same problem without the environment (check-config --no-env, ack...)
    assert url_problems(tmp_path, url, env={}, need_secrets=False) == out


@pytest.mark.parametrize("url", [
    "${SLACK_URL}", "slack://${SLACK_URL_A}/${SLACK_URL_B}/${SLACK_C}", "line://${LINE_TOKEN}/${LINE_GROUP}",
    "tgram://${TG}/12345", "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@${SMTP_HOST}?to=${CRISIS_EMAIL}",
    "json://127.0.0.1:9/page", "json://127.0.0.1:9/hook/${HOOK}?-apikey=${KEY}&+X-Api-Key=${KEY}",
    "json://127.0.0.1:9/hook?+Content-Type=text/plain", "ntfy://example.com/topic?auth=token&token=${KEY}",
])
def test_check_config_accepts_secrets_from_the_environment(tmp_path, url):
    env = {**URL_ENV, "SLACK_URL_A": "T0AAAA", "SLACK_URL_B": "B0BBBB"}
    assert url_problems(tmp_path, url, env=env) == []


def test_url_checks_leave_apprise_logging_alone(tmp_path, caplog, monkeypatch):
    """No per-call change of apprise's global log level, and the URL apprise rejects (it may
    hold a secret) is not logged."""
    logger = logging.getLogger("apprise")
    redact("json://127.0.0.1:9/x")  # installs repwatch's handler and filter once
    calls = []
    real = logging.Logger.setLevel
    monkeypatch.setattr(logging.Logger, "setLevel",
                        lambda self, level: (calls.append(self.name), real(self, level))[1])
    caplog.set_level(logging.DEBUG, logger="apprise")
    calls.clear()
    out = url_problems(tmp_path, "nosuchservice://x9Secret0Unparsed0Token")
    assert len(out) == 1 and "apprise cannot parse" in out[0] and "x9Secret0" not in out[0]
    assert url_problems(tmp_path, "${SLACK_URL}") == []
    assert "apprise" not in calls
    assert "x9Secret0" not in caplog.text
    assert logger.level == logging.DEBUG  # what the test set, untouched by the checks


def test_debug_logging_keeps_urllib3_request_lines_out(tmp_path, monkeypatch):
    """urllib3 logs "POST /hook/SECRET?apikey=SECRET" at debug level: the CLI keeps it quiet."""
    monkeypatch.setattr(logging.getLogger("urllib3"), "level", logging.NOTSET)
    main(["--log-level", "debug", "check-config", str(tmp_path / "missing.toml")])
    assert logging.getLogger("urllib3").level == logging.WARNING


# --------------------------------------------------------------------------- 7. out of range

RANGE_CFG = """\
[storage]
url = "sqlite:///x.db"

[daemon]
listen = "127.0.0.1:8787"

[incidents]
response_window = "1h"
link_ttl = "24h"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "ga"
type = "rss"
url = "https://example.com/feed"
every = "5m"

[[routes]]
id = "crisis"
notify = ["json://127.0.0.1:9/page"]
repeat_interval = "4h"
"""


def range_problems(tmp_path, old, new):
    text = RANGE_CFG.replace(old, new)
    assert text != RANGE_CFG
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    return [str(p) for p in exc.value.problems], str(path)


@pytest.mark.parametrize("old,new,line,key", [
    ('every = "5m"', 'every = "99999999999999999999d"', 19, "sources[0].every"),
    ('every = "5m"', 'every = "3651d"', 19, "sources[0].every"),
    ('response_window = "1h"', 'response_window = "999999999d"', 8, "incidents.response_window"),
    ('link_ttl = "24h"', 'link_ttl = "999999999d"', 9, "incidents.link_ttl"),
    ('repeat_interval = "4h"', 'repeat_interval = "999999999d"', 24, "routes[0].repeat_interval"),
    ('listen = "127.0.0.1:8787"', 'listen = "127.0.0.1:99999"', 5, "daemon.listen"),
    ('listen = "127.0.0.1:8787"', 'listen = "127.0.0.1:0"', 5, "daemon.listen"),
    ('listen = "127.0.0.1:8787"', 'listen = "127.0.0.1:8787"\nrate_limits = { "x.example" = "1/99999999999d" }',
     6, "daemon.rate_limits.x.example"),
    ('listen = "127.0.0.1:8787"', 'listen = "127.0.0.1:8787"\nrate_limits = { "x.example" = "5/0s" }',
     6, "daemon.rate_limits.x.example"),
])
def test_out_of_range_values_are_problems_with_their_line(tmp_path, old, new, line, key):
    out, path = range_problems(tmp_path, old, new)
    assert len(out) == 1 and out[0].startswith(f"{path}:{line}: {key}: "), out


def test_range_limits_themselves_are_accepted(tmp_path):
    text = (RANGE_CFG.replace('every = "5m"', 'every = "3650d"').replace('"127.0.0.1:8787"', '"[::1]:65535"')
            .replace('link_ttl = "24h"', 'link_ttl = "3650d"'))
    cfg = load_config(write_config(tmp_path, text), env={})
    assert cfg.sources[0].every == MAX_DURATION == timedelta(days=3650) and cfg.daemon.listen == "[::1]:65535"


def test_parse_duration_overflow_is_a_value_error():
    with pytest.raises(ValueError, match="too large"):
        parse_duration("99999999999999999999d")


def test_check_config_exits_2_on_a_huge_duration(tmp_path, capsys):
    path = write_config(tmp_path, RANGE_CFG.replace('every = "5m"', 'every = "99999999999999999999d"'))
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"{path}:19: sources[0].every: duration '99999999999999999999d' is too large"


# --------------------------------------------------------------------------- 9. storage-only commands

OPS_CFG = """
[storage]
url = "sqlite:///{db}"

[daemon]
listen = ""

[incidents]
public_url = "http://127.0.0.1:8787"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "yelp"
type = "yelp"
business_id = "dr-lin-taipei"
about = "dr-lin"

[[sources]]
id = "reddit"
type = "reddit"
query = "林志明"
reddit_user = "clinic-bot"

[[routes]]
id = "crisis"
notify = ["{crisis}", "${{PAGER_URL}}"]

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"
route = "crisis"
"""
UNSET = ("YELP_API_KEY", "REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "PAGER_URL", "REPWATCH_ACK_SECRET", "DB_URL")


def test_load_config_without_secrets_still_validates_the_rest(tmp_path):
    path = write_config(tmp_path, OPS_CFG.format(db=tmp_path / "a.db", crisis="json://127.0.0.1:9/crisis"))
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert len(exc.value.problems) == 5  # three connector credentials, the pager URL, the ack secret
    cfg = load_config(path, env={}, need_secrets=False)
    assert sorted(p.key for p in cfg.unset) == sorted(str(p.key) for p in exc.value.problems)
    assert cfg.routes[0].notify == ("json://127.0.0.1:9/crisis", "${PAGER_URL}")  # indexes kept
    bad = write_config(tmp_path, OPS_CFG.format(db=tmp_path / "a.db", crisis="json://127.0.0.1:9/crisis")
                       .replace('window = "1h"', 'window = "often"'), "bad.toml")
    with pytest.raises(ConfigError) as exc:
        load_config(bad, env={}, need_secrets=False)
    assert [p.key for p in exc.value.problems] == ["rules[0].window"]


def test_ack_and_other_storage_commands_need_no_credentials(tmp_path, receiver, capsys, monkeypatch, builtin_scorer):
    db = tmp_path / "ops.db"
    path = write_config(tmp_path, OPS_CFG.format(db=db, crisis=receiver.url("/crisis")))
    env = {"YELP_API_KEY": "y", "REDDIT_CLIENT_ID": "i", "REDDIT_CLIENT_SECRET": "s",
           "PAGER_URL": receiver.url("/pager"), "REPWATCH_ACK_SECRET": "test-secret-0123456789abcdef"}
    clock = ManualClock(SystemClock().now() - timedelta(minutes=5))
    app = App(load_config(path, env=env), scorer=builtin_scorer, clock=clock)  # the daemon, with every secret
    try:
        for text in ("差", "很差", "非常差"):
            add(app, clock, f"林志明 {text}", source="yelp")
        step(app, clock)
        step(app, clock, 30)
        assert receiver.wait_for(2, 5) and len(receiver.at("/pager")) == 1
        inc = app.store.rows(IncidentRow)[0]
        for name in UNSET:
            monkeypatch.delenv(name, raising=False)
        cfg = str(path)
        capsys.readouterr()
        assert main(["check-config", cfg]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 5
        assert main(["check-config", "--no-env", cfg]) == 0
        assert capsys.readouterr().out.strip().endswith(
            "not set, so not checked (--no-env): PAGER_URL, REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, "
            "REPWATCH_ACK_SECRET, YELP_API_KEY")
        assert main(["incidents", "--config", cfg]) == 0
        assert main(["ack", str(inc.id), "--by", "Amy", "--config", cfg]) == 0
        out = capsys.readouterr()
        assert f"incident #{inc.id} acknowledged by Amy" in out.out and "the daemon sends" in out.err
        assert len(receiver.received) == 2  # not sent from a shell without the pager URL...
        clock.advance(SystemClock().now() - clock.now() + timedelta(seconds=1))  # past the CLI's ack
        step(app, clock)  # ...the daemon sends it to both URLs of the route
        assert receiver.wait_for(4, 5)
        assert len(receiver.at("/crisis")) == 2 and len(receiver.at("/pager")) == 2
        for argv in (["resolve", str(inc.id), "--by", "Amy"],
                     ["silence", "add", 'entity="dr-lin"', "--for", "1h", "--by", "Amy"],
                     ["silence", "list"], ["deliveries"], ["mentions"], ["sources"],
                     ["label", "1", "--as", "neutral", "--by", "Amy"], ["digest", "crisis"]):
            assert main([*argv, "--config", cfg]) in (0, 1), argv
            err = capsys.readouterr().err
            assert "is not set" not in err, (argv, err)
        assert main(["digest", "crisis", "--send", "--config", cfg]) == 2  # sending needs the secrets
        assert "PAGER_URL is not set" in capsys.readouterr().err
        assert app.store.get(IncidentRow, inc.id).status == "resolved"
    finally:
        app.close()


def test_storage_variables_are_still_required(tmp_path, capsys, monkeypatch):
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    path = write_config(tmp_path, OPS_CFG.format(db="x", crisis="json://127.0.0.1:9/crisis")
                        .replace('url = "sqlite:///x"', 'url = "${DB_URL}"'))
    assert main(["incidents", "--config", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"{path}:3: storage.url: environment variable DB_URL is not set"
    assert main(["check-config", "--no-env", str(path)]) == 0  # validating needs no storage
