"""The config file's JSON Schema (``repwatch config schema``): generated from the models that
validate the file, it accepts every shipped config and refuses broken ones."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from monitor.cli import main
from monitor.config.schema import json_schema

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "config").glob("*.toml"))


@pytest.fixture(scope="module")
def validator():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, data) -> list[str]:
    return ["/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(data)]


def test_example_config_is_shipped_and_validates(validator):
    assert ROOT / "config" / "example.toml" in SHIPPED
    data = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    assert len(data["sources"]) >= 10  # the example shows most connectors: the test is not vacuous
    assert errors(validator, data) == []


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates(validator, path):
    assert errors(validator, tomllib.loads(path.read_text(encoding="utf-8"))) == []


MINIMAL = {"storage": {"url": "${REPWATCH_DB_URL}"}, "entities": [{"id": "dr-lin", "name": "林志明醫師"}],
           "sources": [{"id": "ga", "type": "google_alerts", "url": "https://www.google.com/alerts/feeds/1/2",
                        "every": "5m"}],
           "routes": [{"id": "crisis", "notify": ["${SLACK_URL}"], "group_wait": "0s"}],
           "rules": [{"id": "burst", "route": "crisis"}, {"id": "spike", "kind": "spike", "baseline": "7d",
                                                          "route": "crisis"}]}


def test_variables_are_strings_and_validate(validator):
    assert errors(validator, MINIMAL) == []


@pytest.mark.parametrize("change,where", [
    (lambda d: d["storage"].update(bogus=1), "storage"),  # an unknown key
    (lambda d: d.update(daemon="oops"), "daemon"),  # a table key given a string
    (lambda d: d["sources"][0].update(every=5), "sources/0"),  # a wrong type
    (lambda d: d["sources"][0].update(every="5 parsecs"), "sources/0"),
    (lambda d: d["sources"][0].update(type="carrier-pigeon"), "sources/0"),
    (lambda d: d["sources"][0].update(query="x"), "sources/0"),  # another connector's option
    (lambda d: d["rules"][0].update(baseline="7d"), "rules/0"),  # a spike key on a burst rule
    (lambda d: d["routes"][0].update(group_wait=30), "routes/0"),
    (lambda d: d.pop("entities"), ""),
])
def test_broken_configs_fail_schema_validation(validator, change, where):
    data = json.loads(json.dumps(MINIMAL))
    change(data)
    found = errors(validator, data)
    assert found and all(e.startswith(where) for e in found), found


def test_defaults_are_shown_as_written_in_the_file():
    defs = json_schema()["$defs"]
    route = defs["RouteModel"]["properties"]
    assert route["group_wait"]["default"] == "30s" and route["repeat_interval"]["default"] == "4h"
    assert route["continue"]["default"] is False and "continue_" not in route
    assert defs["SpikeRule"]["properties"]["window"]["default"] == "6h"
    assert "default" not in defs["DaemonModel"]["properties"]["ops_route"]  # not set: no null in TOML
    assert "P(negative)" in defs["SentimentModel"]["properties"]["negative_threshold"]["description"]


def test_cli_prints_the_schema(capsys):
    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(json_schema()))
