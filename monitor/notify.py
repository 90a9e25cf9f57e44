"""Send a message to one apprise URL and report exactly what happened.

Each URL is sent on its own, so one failing receiver never blocks the others and
every delivery row knows its own result. apprise reports failure through its return
value and explains it only in its log, so the log is captured per send and the
reason kept. URLs carry secrets: only apprise's privacy-redacted form is stored or shown.
"""
from __future__ import annotations

import contextvars
import logging
import threading
from contextlib import contextmanager
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


_BUFFER: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("repwatch_apprise_log", default=None)


class _PerSendCapture(logging.Handler):
    """One handler on apprise's logger, installed once. Each send sets its own buffer in
    a context variable; apprise runs plugins in worker threads with the caller's context
    copied, so every warning lands in the buffer of the send that caused it, and parallel
    sends never see each other's reasons."""

    def __init__(self):
        super().__init__(level=logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        buf = _BUFFER.get()
        if buf is not None:
            buf.append(record.getMessage())

    @contextmanager
    def capture(self):
        buf: list[str] = []
        token = _BUFFER.set(buf)
        try:
            yield buf
        finally:
            _BUFFER.reset(token)


_capture = _PerSendCapture()
_install_lock = threading.Lock()


def _installed() -> _PerSendCapture:
    with _install_lock:
        logger = logging.getLogger("apprise")
        if _capture not in logger.handlers:
            logger.addHandler(_capture)
            if logger.level == logging.NOTSET or logger.level > logging.WARNING:
                logger.setLevel(logging.WARNING)
    return _capture


class Notifier:
    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout

    def send(self, url: str, title: str, body: str, body_format: str = "text") -> SendResult:
        """``body_format``: "text", "markdown" (Slack: apprise writes mrkdwn) or "html" (e-mail:
        apprise adds the plain-text part)."""
        asset = apprise.AppriseAsset(async_mode=False)
        app = apprise.Apprise(asset=asset)
        if not app.add(url):
            return SendResult(False, "apprise cannot parse the URL")
        for plugin in app:
            # apprise plugins take (connect, read) timeouts as attributes
            plugin.socket_connect_timeout = self.timeout
            plugin.socket_read_timeout = self.timeout
        with _installed().capture() as captured:
            try:
                fmt = {"markdown": apprise.NotifyFormat.MARKDOWN, "html": apprise.NotifyFormat.HTML}.get(
                    body_format, apprise.NotifyFormat.TEXT)
                ok = app.notify(title=title, body=body, body_format=fmt)
            except Exception as exc:  # a plugin bug must not kill the daemon
                return SendResult(False, f"{type(exc).__name__}: {exc}")
        if ok:
            return SendResult(True)
        lines = [line.strip() for text in captured for line in text.splitlines() if line.strip()]
        reason = " | ".join(lines)[-500:]
        return SendResult(False, reason or "apprise reported failure without a reason")
