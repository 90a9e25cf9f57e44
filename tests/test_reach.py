"""Reaching ack links from a phone (issue 17): check-config warns (exit 0) on a plain-http
``[incidents] public_url`` that is not loopback, with FILE:LINE; the compose ``tls`` profile puts
Caddy in front of repwatch (the compose file itself is validated in tests/test_container.py)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from monitor.cli import main
from tests.conftest import write_config

ROOT = Path(__file__).parent.parent
SECRET = {"REPWATCH_ACK_SECRET": "0123456789abcdef0123"}


def config(tmp_path, public_url: str) -> Path:
    return write_config(tmp_path, f"""
        [storage]
        url = "sqlite:///{tmp_path / 'r.db'}"

        [incidents]
        response_window = "1h"
        public_url = "{public_url}"

        [[entities]]
        id = "dr-lin"
        name = "林志明醫師"

        [[sources]]
        id = "feed"
        type = "rss"
        url = "https://forum.example.tw/feed"

        [[routes]]
        id = "crisis"
        notify = ["json://127.0.0.1:9/page"]
        """)


def test_check_config_warns_on_a_plain_http_public_url_with_its_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET["REPWATCH_ACK_SECRET"])
    cfg = config(tmp_path, "http://repwatch.clinic.example.tw:8787")
    line = next(i for i, text in enumerate(cfg.read_text().splitlines(), 1) if text.strip().startswith("public_url"))
    assert main(["check-config", str(cfg)]) == 0  # a warning, not a failure
    out, err = capsys.readouterr()
    assert ": OK - " in out
    assert err.startswith(f"{cfg}:{line}: incidents.public_url: warning: http://repwatch.clinic.example.tw:8787 is "
                          "plain http"), err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["https://repwatch.clinic.example.tw", "http://127.0.0.1:8787",
                                 "http://localhost:8787", "http://[::1]:8787"])
def test_https_or_loopback_public_urls_are_not_warned_about(tmp_path, capsys, monkeypatch, url):
    monkeypatch.setenv("REPWATCH_ACK_SECRET", SECRET["REPWATCH_ACK_SECRET"])
    assert main(["check-config", str(config(tmp_path, url))]) == 0
    assert capsys.readouterr().err == ""


def test_the_tls_profile_puts_caddy_in_front_of_repwatch():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    caddy = compose["services"]["caddy"]
    assert caddy["profiles"] == ["tls"]  # only with --profile tls
    assert caddy["depends_on"]["repwatch"]["condition"] == "service_healthy"
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    mount = next(v for v in caddy["volumes"] if v.endswith(":/etc/caddy/Caddyfile:ro"))
    caddyfile = (ROOT / mount.split(":")[0]).read_text()
    # Caddy reaches the daemon where the container config makes it listen
    listen = tomllib.loads((ROOT / "config" / "docker.toml").read_text())["daemon"]["listen"]
    port = listen.rsplit(":", 1)[1]
    assert re.search(rf"^\s*reverse_proxy repwatch:{port}\s*$", caddyfile, re.M)
    assert "{$REPWATCH_DOMAIN" in caddyfile and "${REPWATCH_DOMAIN" in caddy["environment"]["REPWATCH_DOMAIN"]
    # the scraper's and the healthcheck's paths stay off the internet
    internal = re.search(r"^\s*@internal path (.+)$", caddyfile, re.M).group(1).split()
    assert {"/metrics", "/healthz"} <= set(internal) and re.search(r"^\s*respond @internal 404", caddyfile, re.M)
    # the daemon's own port is still published on loopback only
    assert all(p.startswith("127.0.0.1:") for p in compose["services"]["repwatch"]["ports"])
