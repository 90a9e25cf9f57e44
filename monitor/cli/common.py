"""What the command modules share: the default config path, loading a config for a
command, and the one way every command gets its app (:meth:`monitor.app.App.from_config`)."""
from __future__ import annotations

import os

from monitor.errors import ConfigError

DEFAULT_CONFIG = os.environ.get("REPWATCH_CONFIG", "repwatch.toml")


def load(path: str, need_secrets: bool = True, storage: bool = True):
    """The config at ``path``. Commands that neither poll nor send pass ``need_secrets=False``:
    connector credentials and notify-URL variables may then be unset (``Config.unset``); the
    variables of ``storage.url`` must still be set when the command opens storage."""
    from monitor.config import load_config

    config = load_config(path, need_secrets=need_secrets)
    missing = [p for p in config.unset if p.key == "storage.url"]
    if storage and missing:
        raise ConfigError(missing)
    return config


def can_send(config) -> bool:
    """Whether every notify URL was expanded (False after ``need_secrets=False`` with one unset)."""
    return not any(p.key.startswith(("routes", "receivers")) for p in config.unset)


def make_app(config, *, model: bool = True):
    """The app for a command: with the configured sentiment model (``run``, ``poll``), or
    without it for commands that only read, acknowledge, silence or send (no model load)."""
    from monitor.app import App

    return App.from_config(config, model=model)
