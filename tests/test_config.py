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
    assert f"{path}:2: storage.bogus: unknown key (allowed here: retain, url)" in out
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


@pytest.mark.parametrize("key", ["storage", "sentiment", "daemon", "incidents"])
def test_a_table_key_given_another_value_is_a_problem(tmp_path, key):
    out = problems(tmp_path, f'{key} = "oops"\n[[entities]]\nid = "dr-lin"\nname = "林志明醫師"\n')
    assert out == [f"{tmp_path / 'repwatch.toml'}:1: {key}: must be a table"]


def test_an_array_of_tables_given_another_value_is_a_problem(tmp_path):
    out = problems(tmp_path, 'rules = "often"\n' + GOOD.split("[[rules]]")[0])
    assert out == [f"{tmp_path / 'repwatch.toml'}:1: rules: must be an array of tables ([[rules]])"]


def test_lookups_by_id(tmp_path):
    from monitor.errors import NotInConfigError, RepwatchError

    cfg = load_config(write_config(tmp_path, GOOD), env=ENV)
    assert cfg.route("crisis-team") is cfg.routes[0] and cfg.source("ga") is cfg.sources[0]
    assert cfg.entity("dr-lin") is cfg.entities[0]
    for lookup in (cfg.route, cfg.source, cfg.entity):
        with pytest.raises(NotInConfigError) as exc:
            lookup("nobody")
        assert isinstance(exc.value, KeyError) and isinstance(exc.value, RepwatchError)
        assert str(exc.value).startswith("no ") and "'nobody'" in str(exc.value)


def test_defaults_are_the_models_defaults(tmp_path):
    from monitor.config import Route, Rule
    from monitor.config.models import RouteModel
    from monitor.config.rules import SpikeRule

    cfg = load_config(write_config(tmp_path, GOOD), env=ENV)
    route = cfg.routes[0]
    for name in ("group_wait", "group_interval", "repeat_interval", "fallback_after", "group_by", "language"):
        assert getattr(route, name) == getattr(Route("r", (), ()), name) == RouteModel.model_fields[name].default
    assert route.timezone == "Asia/Taipei" and route.escalate_after is None
    assert Rule("r", None).window == timedelta(hours=1)
    spike = GOOD + '\n[[rules]]\nid = "s"\nkind = "spike"\nroute = "crisis-team"\n'
    rule = load_config(write_config(tmp_path, spike), env=ENV).rules[1]
    assert (rule.window, rule.severity) == (SpikeRule.model_fields["window"].default, "warning") == \
        (timedelta(hours=6), "warning")


def test_loading_leaves_apprise_log_level_alone(tmp_path):
    import logging

    logger = logging.getLogger("apprise")
    before = logger.level
    try:
        logger.setLevel(logging.INFO)
        load_config(write_config(tmp_path, GOOD), env=ENV)
        problems(tmp_path, GOOD.replace('["${SLACK_URL}"]', '["nosuchservice://abc"]'))
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(before)


def test_connector_options_are_typed_from_the_connector(tmp_path):
    bad = GOOD.replace('entities = ["dr-lin"]', 'entities = ["dr-lin"]\nquery = "x"')
    out = problems(tmp_path, bad)
    assert len(out) == 1 and "sources[0].query: unknown key (allowed here: about, enabled, entities, every, id," in out[0]
    html = GOOD.replace('type = "google_alerts"', 'type = "html"')
    html = html.replace('every = "5m"', 'every = "5m"\nitem = 3')
    out = problems(tmp_path, html)
    assert any(p.endswith("sources[0].item: must be a string, got 3") for p in out), out


def test_keys_are_the_files_names_not_the_attributes(tmp_path):
    out = problems(tmp_path, GOOD.replace('notify = ["${SLACK_URL}"]', 'notify = ["${SLACK_URL}"]\ncontinue_ = true'))
    assert len(out) == 1 and "routes[0].continue_: unknown key (allowed here: continue, digest_at," in out[0]
