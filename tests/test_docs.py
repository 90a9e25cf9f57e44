"""The README and config/example.toml cover every registered connector and its keys, and
every shipped config passes check-config."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors import registry
from monitor.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
CONFIGS = sorted((ROOT / "config").glob("*.toml"))


def readme_section(ctype: str) -> str:
    m = re.search(rf"^### `{re.escape(ctype)}`\n(.*?)(?=^### |^## )", README, re.M | re.S)
    assert m, f"README has no '### `{ctype}`' section"
    return m.group(1)


@pytest.mark.parametrize("ctype", sorted(registry()))
def test_every_connector_is_documented_with_its_keys(ctype):
    section = readme_section(ctype)
    for key in registry()[ctype].options:
        assert f"`{key}`" in section, f"README section for {ctype} does not document {key}"


@pytest.mark.parametrize("ctype", sorted(registry()))
def test_every_connector_is_in_the_example_config(ctype):
    assert re.search(rf'^type = "{re.escape(ctype)}"', EXAMPLE, re.M), f"config/example.toml has no {ctype} source"


def fake_env() -> dict[str, str]:
    """A value for every ${VAR} in the shipped configs and every connector credential."""
    env = {name: f"fake-{name.lower()}" for cfg in CONFIGS for name in re.findall(r"\$\{(\w+)\}", cfg.read_text())}
    env.update({"SLACK_URL": "https://hooks.slack.com/services/T000/B000/XXXX", "OPS_SLACK_URL":
                "https://hooks.slack.com/services/T000/B000/YYYY", "SMTP_HOST": "smtp.example.org",
                "CRISIS_EMAIL": "crisis@example.org", "REPWATCH_DB_URL": "postgresql+psycopg://repwatch:pw@db/repwatch",
                "PR_EMAIL": "pr@example.org", "REPWATCH_ACK_SECRET": "fake-secret-0123456789"})
    for cls in registry().values():
        for opt in cls.options.values():
            if opt.env:
                env[opt.default] = "fake-credential"
    return env


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_pass_check_config(cfg, monkeypatch, capsys):
    for k, v in fake_env().items():
        monkeypatch.setenv(k, v)
    assert main(["check-config", str(cfg)]) == 0, capsys.readouterr().err
