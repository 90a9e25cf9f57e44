from datetime import timedelta

import pytest

from monitor.cli import main
from monitor.config import load_config, locate_keys, parse_duration
from monitor.errors import ConfigError
from tests.conftest import write_config

ENV = {"SLACK_URL": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX", "LINE_TOKEN": "tok",
       "LINE_GROUP": "C123", "SMTP_USER": "u", "SMTP_PASSWORD": "p", "SMTP_HOST": "smtp.example.com",
       "CRISIS_EMAIL": "crisis@example.com", "REPWATCH_DB_URL": "postgresql+psycopg://u:p@db/repwatch"}

GOOD = """\
[storage]
url = "sqlite:///x.db"

[sentiment]
model = "builtin"
negative_threshold = 0.6

[[entities]]
id = "dr-lin"
name = "林志明醫師"
aliases = ["林志明", "Dr. Lin Chih-Ming"]
exclude = ["林志明里長"]

[[sources]]
id = "ga"
type = "google_alerts"
url = "https://www.google.com/alerts/feeds/1/2"
every = "5m"
entities = ["dr-lin"]

[[routes]]
id = "crisis-team"
notify = ["${SLACK_URL}"]

[[rules]]
id = "negative-burst"
min_negative = 3
window = "1h"
route = "crisis-team"
"""


def problems(tmp_path, text, env=ENV):
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(tmp_path, text), env=env)
    return [str(p) for p in exc.value.problems]


def test_valid_config_is_typed(tmp_path):
    cfg = load_config(write_config(tmp_path, GOOD), env=ENV)
    assert cfg.sentiment.negative_threshold == 0.6
    assert cfg.entities[0].terms == ("林志明醫師", "林志明", "Dr. Lin Chih-Ming")
    assert cfg.sources[0].every == timedelta(minutes=5)
    assert cfg.sources[0].entities == ("dr-lin",)
    assert cfg.routes[0].notify == (ENV["SLACK_URL"],)
    assert cfg.routes[0].notify_template == ("${SLACK_URL}",)
    assert cfg.rules[0].entities == ("*",) and cfg.rules[0].window == timedelta(hours=1)


@pytest.mark.parametrize("text,expected", [
    ("5m", timedelta(minutes=5)), ("1h30m", timedelta(hours=1, minutes=30)), ("90s", timedelta(seconds=90)),
    ("2d", timedelta(days=2)),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 parsecs", "-1m", "0s", "m5"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_each_problem_names_file_line_and_key(tmp_path):
    bad = GOOD.replace('every = "5m"', 'every = "5 parsecs"').replace('entities = ["dr-lin"]', 'entities = ["dr-who"]')
    bad = bad.replace('route = "crisis-team"', 'route = "nobody"').replace("[storage]\n", "[storage]\nbogus = 1\n")
    out = problems(tmp_path, bad)
    path = str(tmp_path / "repwatch.toml")
    assert f"{path}:2: storage.bogus: unknown key (allowed here: url)" in out
    assert any(p.startswith(f"{path}:19: sources[0].every: bad duration '5 parsecs'") for p in out)
    assert f"{path}:20: sources[0].entities: undefined entity 'dr-who'" in out
    assert f"{path}:30: rules[0].route: undefined route 'nobody'" in out
    assert len(out) == 4


def test_missing_environment_variable(tmp_path):
    out = problems(tmp_path, GOOD, env={})
    assert out == [f"{tmp_path / 'repwatch.toml'}:23: routes[0].notify: environment variable SLACK_URL is not set"]


def test_url_apprise_cannot_parse(tmp_path):
    out = problems(tmp_path, GOOD.replace('["${SLACK_URL}"]', '["nosuchservice://abc"]'))
    assert len(out) == 1 and "routes[0].notify: URL #1" in out[0] and "apprise cannot parse" in out[0]


def test_credentials_written_into_the_file_are_refused(tmp_path):
    out = problems(tmp_path, GOOD.replace('["${SLACK_URL}"]', '["mailtos://bob:hunter2@example.com"]'))
    assert any("credential written into the file" in p for p in out)
    assert not any("hunter2" in p for p in out)


def test_syntax_error_has_a_line(tmp_path):
    out = problems(tmp_path, GOOD.replace('min_negative = 3', 'min_negative = = 3'))
    assert len(out) == 1 and out[0].startswith(f"{tmp_path / 'repwatch.toml'}:27: TOML syntax error")


def test_unknown_source_type_and_duplicate_ids(tmp_path):
    bad = GOOD + '\n[[sources]]\nid = "ga"\ntype = "carrier-pigeon"\nurl = "https://x.example"\n'
    out = problems(tmp_path, bad)
    assert any("sources[1].type: unknown source type 'carrier-pigeon'" in p for p in out)
    assert any("sources[1].id: duplicate source id 'ga'" in p for p in out)


def test_locate_keys_follows_arrays_of_tables():
    locs = locate_keys(GOOD)
    assert locs[("entities", 0, "aliases")] == 11
    assert locs[("sources", 0, "url")] == 17
    assert locs[("rules", 0)] == 25


def test_check_config_cli_exit_codes(tmp_path, capsys, monkeypatch):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    good = write_config(tmp_path, GOOD)
    assert main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = write_config(tmp_path, GOOD.replace('"5m"', '"often"'), "bad.toml")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{bad}:18: sources[0].every: bad duration 'often': use a number with d, h, m or s, e.g. \"5m\", \"1h30m\""]
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 2


def test_run_refuses_invalid_config(tmp_path, capsys):
    bad = write_config(tmp_path, GOOD.replace('"5m"', '"often"'))
    assert main(["run", "--config", str(bad)]) == 2
    assert "sources[0].every" in capsys.readouterr().err

# every shipped config passing check-config: tests/test_docs.py
