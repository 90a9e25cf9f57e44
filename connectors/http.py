"""One HTTP request that turns every failure into data, and what platforms say in headers.

Error policy (a table, not ad-hoc checks): 2xx parse; 304 "not modified" is a normal
result; 401/403 auth_failed (stop polling until the config changes; a 403 that looks
like an anti-bot challenge is "blocked"); 429 rate_limited with Retry-After honoured;
5xx, 408 and network errors transient: retried with exponential backoff and jitter, then
"failed"; other 4xx failed. Bodies are streamed and cut off at ``max_bytes``.

Errors travel as one exception, :class:`FetchFailed`, carrying the finished
:class:`~monitor.mention.FetchResult` (status, error, HTTP status, retry time):
:meth:`Transport.send` and :func:`decode_json` raise it, and the connector template
(:class:`connectors.base.HttpConnector`) catches it once and applies its
partial-failure policy. No function here returns "a response or a result".

Deadline: a source's ``timeout`` bounds its whole fetch (see :mod:`connectors.deadline`):
it is checked between body chunks and before each retry, and a watchdog cuts the
connection when it passes mid-read.
"""
from __future__ import annotations

import email.utils
import json
import random
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.dates import parse_time
from connectors.deadline import Deadline, DeadlineExceeded, Watchdog
from monitor.clock import UTC
from monitor.mention import FetchResult


class FetchFailed(Exception):
    """A request (or a page, or a whole fetch) ended in a finished, non-ok result."""

    def __init__(self, result: FetchResult):
        super().__init__(result.error or result.status)
        self.result = result


class BodyTooLarge(Exception):
    pass


@dataclass
class HttpPolicy:
    attempts: int = 3  # tries for transient failures (5xx, timeouts, connection errors)
    backoff: float = 1.0  # seconds before the 2nd try; doubles each time, with full jitter
    max_retry_after: timedelta = timedelta(hours=6)
    sleep: Callable[[float], None] = field(default=time.sleep)
    rand: Callable[[], float] = field(default=random.random)
    monotonic: Callable[[], float] = field(default=time.monotonic)  # the fetch deadline's clock


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


class HostLimiter:
    """Requests per host as token buckets shared by every connector of one daemon.

    ``rates`` maps a host (or a ``*.suffix``) to (requests, period). A request waits
    (through the injected sleep) until its host has a token. Platform limits that are
    published (Reddit, Yelp, X) are the defaults; ``[daemon.rate_limits]`` overrides."""

    DEFAULTS: ClassVar[dict[str, tuple[int, float]]] = {
        "oauth.reddit.com": (100, 60.0),  # 100 queries per minute per OAuth client
        "www.reddit.com": (10, 60.0),
        "api.yelp.com": (50, 1.0),  # Fusion: 50 QPS (and 500 or 5,000 calls a day by plan)
        "api.x.com": (450, 900.0),  # recent search, app auth: 450 per 15 minutes
        "api.twitter.com": (450, 900.0),
        "graph.facebook.com": (200, 3600.0),
        "www.ptt.cc": (1, 2.0),  # no published limit: be polite to a volunteer-run site
        "www.dcard.tw": (1, 2.0),
    }

    def __init__(self, rates: dict[str, tuple[int, float]] | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic):
        self.rates = {**self.DEFAULTS, **(rates or {})}
        self.sleep = sleep
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, at)

    def rate_for(self, host: str) -> tuple[int, float] | None:
        host = host.lower()
        if host in self.rates:
            return self.rates[host]
        for pattern, rate in self.rates.items():
            if pattern.startswith("*.") and (host.endswith(pattern[1:]) or host == pattern[2:]):
                return rate
        return None

    def acquire(self, host: str) -> float:
        """Take one token for ``host``, waiting if needed; return the seconds waited."""
        rate = self.rate_for(host)
        if rate is None:
            return 0.0
        count, period = rate
        per_token = period / count
        with self._lock:
            now = self.monotonic()
            tokens, at = self._buckets.get(host, (float(count), now))
            tokens = min(float(count), tokens + (now - at) / per_token)
            wait = 0.0 if tokens >= 1 else (1 - tokens) * per_token
            # the token is taken now; the bucket may go negative, later callers wait longer
            self._buckets[host] = (tokens - 1, now)
        if wait > 0:
            self.sleep(wait)
        return wait


# --------------------------------------------------------------------------- challenge pages

_CHALLENGE_MARKERS = (b"cf-challenge", b"challenge-platform", b"cf-chl-", b"Just a moment...", b"captcha",
                      b"Attention Required!", b"cf-browser-verification")
# in a 200 page only unmistakable markers count: a review page may well carry a reCAPTCHA form
_STRICT_MARKERS = (b"cf-chl-", b"challenge-platform", b"cf-browser-verification", b"<title>just a moment...</title>")


def is_challenge(body: bytes, strict: bool = False) -> bool:
    """An anti-bot interstitial (Cloudflare and friends) rather than the content asked for."""
    low = body[:64_000].lower()
    return any(m.lower() in low for m in (_STRICT_MARKERS if strict else _CHALLENGE_MARKERS))


# --------------------------------------------------------------------------- retry times

def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as seconds or an HTTP date -> absolute aware UTC time."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # a header is Latin-1: "²" is a digit to isdigit, not to int
        try:
            return now + timedelta(seconds=int(value))
        except OverflowError:  # past the year 9999: the platform's limit (max_retry_after) applies
            return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_RESET_HEADERS = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset", "ratelimit-resettime")
_REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")


def rate_limit_reset(headers: httpx.Headers, now: datetime, force: bool = False) -> datetime | None:
    """When a platform's rate-limit headers say the budget is spent, the time it resets.

    Understands Reddit (seconds to reset), X and Bluesky (epoch seconds), Mastodon and
    Yelp (ISO time). ``force`` returns the reset time even if "remaining" is not 0."""
    remaining = next((headers[h] for h in _REMAINING_HEADERS if h in headers), None)
    try:
        spent = remaining is not None and float(remaining) < 1
    except ValueError:
        spent = False
    if not (spent or force):
        return None
    raw = next((headers[h] for h in _RESET_HEADERS if h in headers), None)
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        return parse_time(raw)
    try:
        if value > 1_000_000_000:  # epoch seconds
            return datetime.fromtimestamp(value, UTC)
        return now + timedelta(seconds=value)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, a time past the year 9999
        return None


def classify_status(status: int, headers: httpx.Headers, head: bytes, now: datetime,
                    max_retry_after: timedelta) -> FetchResult | None:
    """The generic table: a finished result for a non-2xx status, or None when it is worth retrying."""
    if status == 304:
        return FetchResult("not_modified", http_status=304)
    if status == 429:
        until = (parse_retry_after(headers.get("retry-after"), now) or rate_limit_reset(headers, now, force=True)
                 or now + timedelta(minutes=5))
        until = min(until, now + max_retry_after)
        return FetchResult("rate_limited", error=f"HTTP 429 rate limited; retry after {until.isoformat()}",
                           http_status=429, retry_after=until)
    if status in (403, 503) and is_challenge(head):
        return blocked(status, "anti-bot challenge page", now)
    if status in (401, 403):
        return FetchResult("auth_failed", error=f"HTTP {status}: credentials refused or access denied",
                           http_status=status)
    if status >= 500 or status == 408:
        return None
    return FetchResult("failed", error=f"HTTP {status}", http_status=status)


def blocked(status: int, why: str, now: datetime) -> FetchResult:
    """An anti-bot wall: reported as blocked (not an error), and the source backs off an hour."""
    return FetchResult("blocked", error=f"HTTP {status} {why}", http_status=status,
                       retry_after=now + timedelta(hours=1))


# --------------------------------------------------------------------------- the request

def read_capped(resp: httpx.Response, limit: int, truncate: bool = False, deadline: Deadline | None = None) -> bytes:
    """The body, streamed: over ``limit`` bytes it is refused (BodyTooLarge) or, with
    ``truncate``, cut; DeadlineExceeded when the fetch's deadline passes between chunks."""
    declared = resp.headers.get("content-length")
    if not truncate and declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {int(declared):,} bytes exceeds max_bytes={limit:,}")
    chunks, size = [], 0
    for chunk in resp.iter_bytes():
        if deadline is not None and deadline.left() <= 0:
            raise DeadlineExceeded()
        size += len(chunk)
        if size > limit:
            if truncate:
                chunks.append(chunk[: limit - (size - len(chunk))])
                break
            raise BodyTooLarge(f"body exceeds max_bytes={limit:,} (stopped reading)")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class Transport:
    """Sends one request for a connector: the host's rate limit, a size cap, the fetch's
    deadline, retries of transient failures, and ``classify`` for non-2xx answers."""

    client: httpx.Client
    policy: HttpPolicy
    limiter: HostLimiter | None
    timeout: float  # seconds: httpx's per-read timeout (the deadline bounds the whole)
    max_bytes: int
    classify: Callable[[int, httpx.Headers, bytes], FetchResult | None]
    blocked: Callable[[int, str], FetchResult]

    def send(self, method: str, url: str, deadline: Deadline, **kw: Any) -> HttpResponse:
        """A 2xx response, or FetchFailed with the finished result (304 and every error)."""
        last_error, last_status = "no attempt made", None
        host = urlsplit(url).hostname or ""
        for attempt in range(1, self.policy.attempts + 1):
            if self.limiter is not None:
                deadline.at += self.limiter.acquire(host)
            left = deadline.left()
            if left <= 0:
                raise FetchFailed(deadline.passed(attempt - 1, last_error, last_status))
            got = self._attempt(method, url, deadline, left, attempt, last_status, kw)
            if isinstance(got, HttpResponse):
                return got
            last_status, last_error = got
            if attempt < self.policy.attempts:
                delay = self.policy.backoff * (2 ** (attempt - 1)) * (0.5 + self.policy.rand() / 2)  # jitter 50-100 %
                if delay >= deadline.left():  # the retry could not finish in time: stop now
                    raise FetchFailed(deadline.passed(attempt, last_error, last_status))
                self.policy.sleep(delay)
        raise FetchFailed(FetchResult("failed", error=f"{last_error} (after {self.policy.attempts} attempts)",
                                      http_status=last_status))

    def _attempt(self, method: str, url: str, deadline: Deadline, left: float, attempt: int,
                 last_status: int | None, kw: dict) -> HttpResponse | tuple[int | None, str]:
        """One try: the response, (status, error) of a transient failure, or FetchFailed."""
        watchdog = Watchdog(left)
        try:
            with self.client.stream(method, url, timeout=min(self.timeout, left),
                                    extensions={"trace": watchdog.trace}, **kw) as resp:
                watchdog.watch(resp.extensions.get("network_stream"))
                status = resp.status_code
                if 200 <= status < 300:
                    body = read_capped(resp, self.max_bytes, deadline=deadline)
                    if body.lstrip()[:1] == b"<" and is_challenge(body, strict=True):
                        raise FetchFailed(self.blocked(status, "anti-bot challenge page"))
                    return HttpResponse(status, resp.headers, body, str(resp.url))
                head = read_capped(resp, 64_000, truncate=True, deadline=deadline)
                outcome = self.classify(status, resp.headers, head)
                if outcome is not None:
                    raise FetchFailed(outcome)
                return status, f"HTTP {status} {resp.reason_phrase}".strip()
        except BodyTooLarge as exc:
            raise FetchFailed(FetchResult("failed", error=str(exc))) from None
        except DeadlineExceeded:
            raise FetchFailed(deadline.passed(attempt, "", last_status)) from None
        except httpx.TimeoutException as exc:
            if watchdog.fired or deadline.left() <= 0:
                raise FetchFailed(deadline.passed(attempt, "", last_status)) from None
            return last_status, f"timed out after {self.timeout:g}s ({type(exc).__name__})"
        except httpx.TooManyRedirects:
            raise FetchFailed(FetchResult("failed", error="too many redirects (redirect loop?)")) from None
        except httpx.InvalidURL as exc:  # e.g. a pagination token too long for a URL
            raise FetchFailed(FetchResult("failed", error=f"invalid request URL: {str(exc)[:120]}")) from None
        except httpx.HTTPError as exc:
            if watchdog.fired:  # the watchdog cut the connection
                raise FetchFailed(deadline.passed(attempt, "", last_status)) from None
            return last_status, f"{type(exc).__name__}: {exc}"
        finally:
            watchdog.stop()


# --------------------------------------------------------------------------- bodies

def resp_charset(resp: HttpResponse) -> str | None:
    m = re.search(r"charset=([\w\-]+)", resp.headers.get("content-type", ""), re.I)
    return m.group(1) if m else None


def decode_json(resp: HttpResponse) -> Any:
    """The JSON document in a response; FetchFailed ("failed") naming what arrived instead."""
    body = resp.body
    if not body.strip():
        raise FetchFailed(FetchResult("failed", error="empty body where JSON was expected", http_status=resp.status))
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        ctype = resp.headers.get("content-type", "none")
        raise FetchFailed(FetchResult("failed", error=f"expected JSON, got HTML/XML (Content-Type: {ctype})",
                                      http_status=resp.status))
    charset = resp_charset(resp) or "utf-8"
    try:
        text = body.decode(charset, "replace")
    except LookupError:  # a charset no codec knows ("utf8mb4"): JSON is UTF-8 (RFC 8259)
        text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        what = "truncated JSON (cut off mid-document)" if _unclosed(text) else "malformed JSON"
        error = f"{what}: {exc.msg} at char {exc.pos} of {len(body):,} bytes"
    except RecursionError:
        error = f"malformed JSON: nested too deep to read ({len(body):,} bytes)"
    raise FetchFailed(FetchResult("failed", error=error, http_status=resp.status))


def _unclosed(text: str) -> bool:
    """True when a JSON text ends inside a string or with brackets still open."""
    depth, in_string, escape = 0, False, False
    for ch in text:
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return in_string or depth > 0


@lru_cache(maxsize=4)
def tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's default TLS context (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), read once per
    process: reading the CA bundle takes some 30 ms, and every App (a reload, each CLI
    command) made one."""
    return httpx.create_ssl_context()
