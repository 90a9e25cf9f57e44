"""What the command modules share: the default config path, loading a config for a
command, and the one way every command gets its app (:meth:`monitor.app.App.from_config`)."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

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


def display_zone(config) -> tzinfo | None:
    """The zone the CLI shows times in. ``None`` is the machine's own (``TZ`` when set), which
    wins unless the machine keeps UTC and ``TZ`` is unset (a server): then the config's routes'
    zone when they all share one (a Taipei team's server shows Taipei time)."""
    if os.environ.get("TZ") or datetime.now().astimezone().utcoffset() != timedelta(0):
        return None
    zones = {r.timezone for r in config.routes}
    return ZoneInfo(zones.pop()) if len(zones) == 1 else None


def shown_time(when: datetime, zone: tzinfo | None, seconds: bool = False) -> str:
    """``2026-12-02 13:05 +08:00``: a stored (UTC) time in ``zone`` (None: the machine's), with
    its offset."""
    from monitor.render.doc import utc_offset

    local = when.astimezone(zone) if zone is not None else when.astimezone()
    return local.strftime("%Y-%m-%d %H:%M:%S " if seconds else "%Y-%m-%d %H:%M ") + utc_offset(local)


class Progress:
    """A long command's steps on stderr (stdout stays the result), each with the seconds since
    the start: ``[   4.1s] encoded 2000/9000 new texts``."""

    def __init__(self, stream=None):
        self.started = time.perf_counter()
        self.stream = stream

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {message}", file=self.stream or sys.stderr, flush=True)
