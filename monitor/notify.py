"""Send a message to one apprise URL and report exactly what happened.

Each URL is sent on its own, so one failing receiver never blocks the others and
every delivery row knows its own result. apprise reports failure through its return
value and explains it only in its log, so the log is captured per send and the
reason kept. URLs carry secrets: only apprise's privacy-redacted form is stored or shown.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

log = logging.getLogger("repwatch.notify")


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


def redact(url: str) -> str:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return url.split("://", 1)[0] + "://***"
    return plugin.url(privacy=True)


class Notifier:
    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout

    def send(self, url: str, title: str, body: str) -> SendResult:
        asset = apprise.AppriseAsset(async_mode=False)
        app = apprise.Apprise(asset=asset)
        if not app.add(url):
            return SendResult(False, "apprise cannot parse the URL")
        for plugin in app:
            # apprise plugins take (connect, read) timeouts as attributes
            plugin.socket_connect_timeout = self.timeout
            plugin.socket_read_timeout = self.timeout
        with apprise.LogCapture(level=apprise.logging.WARNING) as captured:
            try:
                ok = app.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
            except Exception as exc:  # a plugin bug must not kill the daemon
                return SendResult(False, f"{type(exc).__name__}: {exc}")
            text = captured.getvalue().strip()
        if ok:
            return SendResult(True)
        reason = " | ".join(line.strip() for line in text.splitlines() if line.strip())[-500:]
        return SendResult(False, reason or "apprise reported failure without a reason")
