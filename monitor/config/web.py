"""``[web]``: the dashboard the daemon serves on ``[daemon] listen`` (:mod:`monitor.web`).

``users_file`` holds the sign-in users (``repwatch user add``); relative paths are read
from the config file's folder, and without it the file is ``repwatch-users.json`` beside a
SQLite database (or the config file). ``behind_tls_proxy`` says a TLS reverse proxy is in
front: session cookies are then marked Secure, the proxy's X-Forwarded-For is trusted
from loopback, and listening on a non-loopback address is no longer warned about.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.config.fields import Flag, Text
from monitor.config.models import Table

USERS_FILE = "repwatch-users.json"


class WebModel(Table):
    """[web]: sign-in users and how the dashboard is reached."""

    users_file: Text = None
    """the users file (`repwatch user add`); default: repwatch-users.json beside the SQLite database"""
    behind_tls_proxy: Flag = False
    """a TLS reverse proxy is in front (Secure cookies; no warning for a non-loopback listen)"""


@dataclass(frozen=True)
class WebConfig:
    users_file: str | None = None  # resolved: absolute, or None when the default applies
    behind_tls_proxy: bool = False


def web_config(model: WebModel | None, config_file: str) -> WebConfig:
    if model is None:
        return WebConfig()
    users = model.users_file
    if users and not Path(users).expanduser().is_absolute() and config_file:
        users = str(Path(config_file).resolve().parent / Path(users).expanduser())
    return WebConfig(users_file=users, behind_tls_proxy=bool(model.behind_tls_proxy))


def default_users_file(storage_url: str, config_file: str) -> Path:
    """``repwatch-users.json`` beside a SQLite database file, else beside the config file."""
    if storage_url.startswith("sqlite:///") and ":memory:" not in storage_url:
        return Path(storage_url[len("sqlite:///"):]).expanduser().resolve().parent / USERS_FILE
    return Path(config_file or ".").resolve().parent / USERS_FILE
