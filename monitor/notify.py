"""Send a message to one apprise URL and report exactly what happened.

Each URL is sent on its own, so one failing receiver never blocks the others and
every delivery row knows its own result. apprise reports failure through its return
value and explains it only in its log, so the log is captured per send and the
reason kept. URLs carry secrets: only :func:`redact`'s form is stored or shown: apprise's
privacy form, with the path of json/form/xml URLs and the values of ``-param`` and
``+header`` options masked as well (apprise shows those in full). :func:`secret_parts` names
those pieces, so a failure reason or an apprise log line that repeats one is scrubbed too.
apprise's logger is set up once (a handler and a filter), never per call.
"""
from __future__ import annotations

import contextvars
import difflib
import logging
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import apprise

log = logging.getLogger("repwatch.notify")


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str | None = None


APP_ID = "repwatch"
APP_DESC = "repwatch reputation monitor"


def notify_type(kind: str, severity: str | None = None, state: str | None = None) -> str:
    """apprise's notify type for a notification (its colour in Slack, Discord or Teams, and the
    ``type`` of a JSON webhook): an acknowledgement or a recovered source is ``success``; a
    digest or report ``info``; anything else follows its severity: critical is ``failure``,
    warning ``warning``, info (or none) ``info``."""
    if kind == "ack" or state == "recovered":
        return apprise.NotifyType.SUCCESS.value
    if kind in ("digest", "report"):
        return apprise.NotifyType.INFO.value
    return {"critical": apprise.NotifyType.FAILURE, "warning": apprise.NotifyType.WARNING}.get(
        severity or "", apprise.NotifyType.INFO).value


def _asset() -> apprise.AppriseAsset:
    """apprise's asset named for repwatch: Slack's footer reads "repwatch", and no apprise icon
    (image URLs or files) goes with a message."""
    return apprise.AppriseAsset(async_mode=False, app_id=APP_ID, app_desc=APP_DESC, app_url="",
                                image_url_mask="", image_url_logo="", image_path_mask=False)


MASK = "***"
# apprise's generic webhooks: the path is often the token (json://host/hook/SECRET)
PATH_SECRET_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
_ENV_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_DELIMS = re.compile(r"([/?&=@:#])")


def plugin_for(url: str):
    """apprise's plugin for ``url``, or None when apprise cannot use it. Quiet: apprise logs
    the URL it rejects, and that URL may hold a secret."""
    _installed()
    token = _QUIET.set(True)
    try:
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # pragma: no cover - apprise raises only with suppress off
        return None
    finally:
        _QUIET.reset(token)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (part.partition("=") for part in query.split("&") if part)]


def is_option(raw_key: str) -> bool:
    """apprise's ``-param`` (a query parameter it adds) and ``+header`` options of json/form/xml URLs."""
    key = unquote(raw_key.replace("+", "%2B"))
    return key[:1] in ("-", "+")


def masked_by_apprise(plugin) -> list[str]:
    """The pieces apprise hides in its privacy form (tokens, passwords, webhook ids), raw."""
    plain, private = _DELIMS.split(plugin.url(privacy=False)), _DELIMS.split(plugin.url(privacy=True))
    pieces = []
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, plain, private, autojunk=False).get_opcodes():
        if tag in ("replace", "delete"):
            piece = "".join(plain[i1:i2]).strip("/?&=@:#")
            if piece:
                pieces.append(unquote(piece))
    return pieces


def secret_parts(url: str, plugin=None) -> list[str]:
    """The secret pieces of an apprise URL, as written (unquoted): what apprise masks in its
    privacy form, the path segments of json/form/xml URLs, and ``-param``/``+header`` values."""
    plugin = plugin if plugin is not None else plugin_for(url)
    parts = masked_by_apprise(plugin) if plugin is not None else []
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    if split.password:
        parts.append(unquote(split.password))
    if split.scheme.lower() in PATH_SECRET_SCHEMES:
        parts += [unquote(seg) for seg in split.path.split("/") if seg]
    parts += [unquote(v) for k, v in _query_pairs(split.query) if v and is_option(k)]
    seen: dict[str, None] = {}
    for part in parts:
        if part and part != MASK:
            seen.setdefault(part, None)
    return sorted(seen, key=len, reverse=True)  # longest first: scrubbing never leaves a tail


SCRUB_MIN = 6  # shorter pieces ("hook", "page") are not secrets, and replacing them would mangle text


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret piece (raw or URL-quoted) of SCRUB_MIN characters or more
    replaced by ***."""
    for secret in secrets:
        if len(secret) < SCRUB_MIN:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret, safe="/")}:
            text = text.replace(form, MASK)
    return text


def redact(url: str) -> str:
    """The form of ``url`` that is safe to store, log and show (delivery targets, test-notify)."""
    if _ENV_VAR.search(url):  # a template whose variables are not set here
        return mask_shown(_ENV_VAR.sub(MASK, url))
    plugin = plugin_for(url)
    if plugin is None:
        return url.split("://", 1)[0] + "://" + MASK if "://" in url else MASK
    # belt and braces: scrub whatever secret piece apprise's privacy form still shows in full
    return scrub(mask_shown(plugin.url(privacy=True)), secret_parts(url, plugin))


def mask_shown(text: str) -> str:
    """Mask what apprise's privacy form leaves in full: the password, the path of json/form/xml
    URLs and ``-param``/``+header`` values. Idempotent, so a target stored by an older
    version can be masked again when it is shown."""
    try:
        split = urlsplit(text)
    except ValueError:
        return text.split("://", 1)[0] + "://" + MASK
    netloc, path, query = split.netloc, split.path, split.query
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
    if split.scheme.lower() in PATH_SECRET_SCHEMES:
        path = "/".join(MASK if seg else seg for seg in path.split("/"))
    if query:
        query = "&".join(f"{part.partition('=')[0]}={MASK}" if part.partition("=")[2] and is_option(part)
                         else part for part in query.split("&"))
    return split._replace(netloc=netloc, path=path, query=query).geturl()


_BUFFER: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("repwatch_apprise_log", default=None)
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("repwatch_apprise_quiet", default=False)
_SECRETS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("repwatch_apprise_secrets", default=())


class _Guard(logging.Filter):
    """On apprise's logger, installed once: drops its records while a URL is only being
    checked (:func:`plugin_for`), and scrubs the secret pieces of the URL being sent from the
    rest, before any handler (the per-send capture, the root log) sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _QUIET.get():
            return False
        secrets = _SECRETS.get()
        if secrets:
            text = record.getMessage()
            clean = scrub(text, list(secrets))
            if clean != text:
                record.msg, record.args = clean, None
        return True


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
_guard = _Guard()
_install_lock = threading.Lock()


def _installed() -> _PerSendCapture:
    with _install_lock:
        logger = logging.getLogger("apprise")
        if _capture not in logger.handlers:
            logger.addHandler(_capture)
            if logger.level == logging.NOTSET or logger.level > logging.WARNING:
                logger.setLevel(logging.WARNING)
        if _guard not in logger.filters:
            logger.addFilter(_guard)
    return _capture


class Notifier:
    def __init__(self, timeout: float = 15.0):
        self.timeout = timeout

    def send(self, url: str, title: str, body: str, body_format: str = "text",
             notify_type: str = "info") -> SendResult:
        """``body_format``: "text", "markdown" (Slack: apprise writes mrkdwn) or "html" (e-mail:
        apprise adds the plain-text part). ``notify_type``: apprise's ``info``, ``success``,
        ``warning`` or ``failure`` (:func:`notify_type`)."""
        capture = _installed()
        secrets = secret_parts(url)
        token = _SECRETS.set(tuple(secrets))
        try:
            app = apprise.Apprise(asset=_asset())
            if not app.add(url):
                return SendResult(False, "apprise cannot parse the URL")
            for plugin in app:
                # apprise plugins take (connect, read) timeouts as attributes
                plugin.socket_connect_timeout = self.timeout
                plugin.socket_read_timeout = self.timeout
            with capture.capture() as captured:
                try:
                    fmt = {"markdown": apprise.NotifyFormat.MARKDOWN, "html": apprise.NotifyFormat.HTML}.get(
                        body_format, apprise.NotifyFormat.TEXT)
                    ok = app.notify(title=title, body=body, body_format=fmt,
                                    notify_type=apprise.NotifyType(notify_type))
                except Exception as exc:  # a plugin bug must not kill the daemon
                    return SendResult(False, scrub(f"{type(exc).__name__}: {exc}", secrets))
        finally:
            _SECRETS.reset(token)
        if ok:
            return SendResult(True)
        lines = [line.strip() for text in captured for line in text.splitlines() if line.strip()]
        reason = scrub(" | ".join(lines), secrets)[-500:]
        return SendResult(False, reason or "apprise reported failure without a reason")
