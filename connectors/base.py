"""What every connector shares: the fetch context, and an HTTP GET that turns every
failure into data.

Error policy (a table, not exceptions): 2xx parse; 304 "not modified" is a normal
result; 401/403 auth_failed (stop polling until the config changes; a 403 that looks
like an anti-bot challenge is "blocked"); 429 rate_limited with Retry-After honoured;
5xx and network errors transient: retried with exponential backoff and jitter, then
"failed"; other 4xx failed. Bodies are streamed and cut off at ``max_bytes``.

Deadline: a source's ``timeout`` bounds its whole fetch (:meth:`Connector.poll`): every
request, retry and page, waits for the host's rate limit excepted. httpx's timeouts are
per read, so a server trickling a byte a second would never trip them; the deadline is
checked between body chunks and before each retry, and a watchdog cuts the connection
when it passes mid-read.
"""
from __future__ import annotations

import email.utils
import functools
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from monitor.clock import UTC, Clock, SystemClock
from connectors.spec import Source
from monitor.mention import FetchResult


@dataclass(frozen=True)
class FetchContext:
    """What a connector knows from earlier polls (kept by the store, passed in)."""

    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None


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


@dataclass(frozen=True)
class Option:
    """One connector-specific config key: its type, whether it is required, and what it means.

    ``env`` marks a credential: the config never holds the secret itself; the value of
    the key is the *name* of an environment variable, and ``default_env`` is used when
    the key is absent."""

    kind: type | tuple[type, ...] = str
    required: bool = False
    default: Any = None
    help: str = ""
    env: bool = False  # a credential: the name of an environment variable

    def describe(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        return " or ".join({str: "a string", int: "an integer", bool: "true or false", list: "a list",
                            dict: "a table", float: "a number"}.get(k, k.__name__) for k in kinds)


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


_CHALLENGE_MARKERS = (b"cf-challenge", b"challenge-platform", b"cf-chl-", b"Just a moment...", b"captcha",
                      b"Attention Required!", b"cf-browser-verification")


# in a 200 page only unmistakable markers count: a review page may well carry a reCAPTCHA form
_STRICT_MARKERS = (b"cf-chl-", b"challenge-platform", b"cf-browser-verification", b"<title>just a moment...</title>")


def is_challenge(body: bytes, strict: bool = False) -> bool:
    """An anti-bot interstitial (Cloudflare and friends) rather than the content asked for."""
    low = body[:64_000].lower()
    return any(m.lower() in low for m in (_STRICT_MARKERS if strict else _CHALLENGE_MARKERS))


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


class BodyTooLarge(Exception):
    pass


class DeadlineExceeded(Exception):
    pass


class _Deadline:
    """When a fetch must be over (monotonic seconds); moved later by rate-limit waits,
    which are this process's politeness, not the server's slowness."""

    def __init__(self, seconds: float, monotonic: Callable[[], float]):
        self.seconds = seconds
        self.monotonic = monotonic
        self.at = monotonic() + seconds

    def left(self) -> float:
        return self.at - self.monotonic()


class _Watchdog:
    """Cuts one request's connection when the fetch's deadline passes mid-read.

    httpx only bounds each read, so a server sending a byte a second (headers or body)
    holds a request for as long as it likes. The socket is learnt from httpcore's trace
    events (a new connection) or the response's ``network_stream`` (a reused one); at the
    deadline it is shut down, the blocked read returns and the request fails."""

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._stream: Any = None
        self._done = False
        self.fired = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None:
            return
        with self._lock:
            self._stream = stream
            fired = self.fired
        if fired:
            self._cut(stream)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            stream = self._stream
        if stream is not None:
            self._cut(stream)

    @staticmethod
    def _cut(stream: Any) -> None:
        try:
            sock = stream.get_extra_info("socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):  # already closed, or not a socket stream
            pass

    def stop(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


class Connector:
    """Base class. Subclasses set ``type``, describe their extra config keys in
    ``options`` (credentials as ``Option(env=True)``), and implement :meth:`fetch`.

    ``default_url`` is the platform's API base: sources of API connectors may leave
    ``url`` out, and fixture replay points it at 127.0.0.1 instead."""

    type: ClassVar[str] = ""
    options: ClassVar[dict[str, Option]] = {}
    default_url: ClassVar[str | None] = None
    accept: ClassVar[str] = "*/*"
    supports_304: ClassVar[bool] = False

    def __init__(self, source: Source, client: httpx.Client, clock: Clock | None = None,
                 policy: HttpPolicy | None = None, user_agent: str = "repwatch",
                 limiter: HostLimiter | None = None):
        self.source = source
        self.client = client
        self.clock = clock or SystemClock()
        self.policy = policy or HttpPolicy()
        self.user_agent = user_agent
        self.limiter = limiter
        self._local = threading.local()  # the deadline of the fetch running in this thread

    def fetch(self, ctx: FetchContext) -> FetchResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def poll(self, ctx: FetchContext) -> FetchResult:
        """:meth:`fetch` within the source's ``timeout``: every request, retry and page of
        it share one deadline (waits for the host's rate limit are not counted). Called
        directly, ``fetch`` gives each request that deadline instead."""
        self._local.deadline = _Deadline(self.source.timeout.total_seconds(), self.policy.monotonic)
        try:
            return self.fetch(ctx)
        finally:
            self._local.deadline = None

    # ------------------------------------------------------------------ config

    @property
    def base_url(self) -> str:
        return (self.source.url or self.default_url or "").rstrip("/")

    def opt(self, key: str) -> Any:
        if key in self.source.options:
            return self.source.options[key]
        return self.options[key].default

    def secret(self, key: str) -> str:
        """A credential, read from the environment when the config was loaded."""
        return self.source.secrets.get(key, "")

    # ------------------------------------------------------------------ HTTP

    def get(self, url: str, ctx: FetchContext | None = None, headers: dict | None = None,
            params: dict | None = None) -> HttpResponse | FetchResult:
        return self.request("GET", url, ctx, headers=headers, params=params)

    def request(self, method: str, url: str, ctx: FetchContext | None = None, *, headers: dict | None = None,
                params: dict | None = None, data: dict | None = None, json_body: Any = None,
                auth: tuple[str, str] | None = None) -> HttpResponse | FetchResult:
        """One HTTP request with conditional headers, timeouts, a size cap, the host's
        rate limit and retries.

        Returns an HttpResponse for 200-299, or a finished FetchResult for anything
        else (304, errors), so the caller's happy path stays short."""
        hdrs = {"User-Agent": self.user_agent, "Accept": self.accept}
        # validators are echoed as the server sent them; one httpx cannot send (not ASCII) is left out
        if ctx and ctx.etag and ctx.etag.isascii():
            hdrs["If-None-Match"] = ctx.etag
        if ctx and ctx.last_modified and ctx.last_modified.isascii():
            hdrs["If-Modified-Since"] = ctx.last_modified
        hdrs.update(headers or {})
        timeout = self.source.timeout.total_seconds()
        # the fetch's deadline (poll), or this request's own one (fetch called directly)
        deadline = getattr(self._local, "deadline", None) or _Deadline(timeout, self.policy.monotonic)
        last_error = "no attempt made"
        last_status: int | None = None
        host = urlsplit(url).hostname or ""
        for attempt in range(1, self.policy.attempts + 1):
            if self.limiter is not None:
                deadline.at += self.limiter.acquire(host)
            left = deadline.left()
            if left <= 0:
                return self._past_deadline(deadline, attempt - 1, last_error, last_status)
            watchdog = _Watchdog(left)
            try:
                with self.client.stream(method, url, headers=hdrs, params=params, data=data, json=json_body,
                                        auth=auth, timeout=min(timeout, left),
                                        extensions={"trace": watchdog.trace}) as resp:
                    watchdog.watch(resp.extensions.get("network_stream"))
                    status = resp.status_code
                    if 200 <= status < 300:
                        body = self._read_capped(resp, deadline=deadline)
                        if body.lstrip()[:1] == b"<" and is_challenge(body, strict=True):
                            return self.blocked(status, "anti-bot challenge page")
                        return HttpResponse(status, resp.headers, body, str(resp.url))
                    head = self._read_capped(resp, limit=64_000, truncate=True, deadline=deadline)
                    outcome = self.classify(status, resp.headers, head)
                    if outcome is not None:
                        return outcome
                    last_status = status
                    last_error = f"HTTP {status} {resp.reason_phrase}".strip()
            except BodyTooLarge as exc:
                return FetchResult("failed", error=str(exc))
            except DeadlineExceeded:
                return self._past_deadline(deadline, attempt, "", last_status)
            except httpx.TimeoutException as exc:
                if watchdog.fired or deadline.left() <= 0:
                    return self._past_deadline(deadline, attempt, "", last_status)
                last_error = f"timed out after {timeout:g}s ({type(exc).__name__})"
            except httpx.TooManyRedirects:
                return FetchResult("failed", error="too many redirects (redirect loop?)")
            except httpx.InvalidURL as exc:  # e.g. a pagination token too long for a URL
                return FetchResult("failed", error=f"invalid request URL: {str(exc)[:120]}")
            except httpx.HTTPError as exc:
                if watchdog.fired:  # the watchdog cut the connection
                    return self._past_deadline(deadline, attempt, "", last_status)
                last_error = f"{type(exc).__name__}: {exc}"
            finally:
                watchdog.stop()
            if attempt < self.policy.attempts:
                delay = self.policy.backoff * (2 ** (attempt - 1)) * (0.5 + self.policy.rand() / 2)  # jitter 50-100 %
                if delay >= deadline.left():  # the retry could not finish in time: stop now
                    return self._past_deadline(deadline, attempt, last_error, last_status)
                self.policy.sleep(delay)
        return FetchResult("failed", error=f"{last_error} (after {self.policy.attempts} attempts)",
                           http_status=last_status)

    @staticmethod
    def _past_deadline(deadline: _Deadline, attempts: int, last_error: str, status: int | None) -> FetchResult:
        why = f"; last: {last_error}" if last_error and last_error != "no attempt made" else ""
        return FetchResult("failed", http_status=status,
                           error=f"timed out: the fetch took longer than its {deadline.seconds:g}s timeout, which "
                                 f"covers every request, retry and page ({attempts} attempt(s){why})")

    def _read_capped(self, resp: httpx.Response, limit: int | None = None, truncate: bool = False,
                     deadline: _Deadline | None = None) -> bytes:
        limit = limit or self.source.max_bytes
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

    def blocked(self, status: int, why: str) -> FetchResult:
        """An anti-bot wall: reported as blocked (not an error), and the source backs off an hour."""
        return FetchResult("blocked", error=f"HTTP {status} {why}", http_status=status,
                           retry_after=self.clock.now() + timedelta(hours=1))

    def ok(self, mentions: list, cursor: str | None, warnings: list[str], resp: HttpResponse | FetchResult | None = None,
           ) -> FetchResult:
        """A successful fetch. When the last response's rate-limit headers say the budget is
        spent, the source waits for the reset instead of earning 429s."""
        last = resp if isinstance(resp, HttpResponse) else None
        wait = rate_limit_reset(last.headers, self.clock.now()) if last is not None else None
        return FetchResult("ok", mentions=tuple(mentions), cursor=cursor, warnings=tuple(warnings),
                           http_status=last.status if last else None, retry_after=wait)

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        """A finished result for a non-2xx status, or None when it is worth retrying.
        Connectors whose platform reports errors in the body (Graph API, YouTube) override
        this and fall back to ``super().classify``."""
        now = self.clock.now()
        if status == 304:
            return FetchResult("not_modified", http_status=304)
        if status == 429:
            until = (parse_retry_after(headers.get("retry-after"), now) or rate_limit_reset(headers, now, force=True)
                     or now + timedelta(minutes=5))
            until = min(until, now + self.policy.max_retry_after)
            return FetchResult("rate_limited", error=f"HTTP 429 rate limited; retry after {until.isoformat()}",
                               http_status=429, retry_after=until)
        if status in (403, 429, 503) and is_challenge(head):
            return self.blocked(status, "anti-bot challenge page")
        if status in (401, 403):
            return FetchResult("auth_failed", error=f"HTTP {status}: credentials refused or access denied",
                               http_status=status)
        if status >= 500 or status == 408:
            return None
        return FetchResult("failed", error=f"HTTP {status}", http_status=status)


# --------------------------------------------------------------------------- helpers for API connectors

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
        when = parse_time(raw)
        return when
    try:
        if value > 1_000_000_000:  # epoch seconds
            return datetime.fromtimestamp(value, UTC)
        return now + timedelta(seconds=value)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, a time past the year 9999
        return None


def parse_time(value: Any, now: datetime | None = None, tz: str = "Asia/Taipei") -> datetime | None:
    """A platform timestamp as aware UTC: ISO 8601 (Z, +00:00, +0000), epoch seconds,
    RFC 2822; None for anything else (the caller records a warning).

    With ``now`` (the connector's clock), text in none of those forms is tried as a
    relative date ("3 小時前", "昨天 14:03", "2 days ago": :func:`connectors.dates.parse_relative`,
    day-based forms in ``tz``), and last, when the optional ``dateparser`` package is
    installed, by dateparser relative to ``now``. Without ``now`` nothing changes."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value > 10_000_000_000:  # epoch milliseconds
            value = value / 1000
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):  # NaN, infinity, a year past 9999
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    iso = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.replace("Z", "+00:00").replace("z", "+00:00"))
    iso = re.sub(r"\.(\d{6})\d+", r".\1", iso)  # nanoseconds (Go, Bluesky) -> microseconds
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return _parse_loose(text, now, tz) if now is not None else None
    if parsed.tzinfo is None:
        return None  # a naive time is ambiguous; connectors that know the zone handle it
    return parsed.astimezone(UTC)


def _parse_loose(text: str, now: datetime, tz: str) -> datetime | None:
    """A relative date, then (if installed) whatever dateparser makes of ``text``; aware UTC or None."""
    from connectors.dates import parse_relative

    try:
        when = parse_relative(text, now, tz)
    except (ValueError, KeyError):  # an unknown zone name
        return None
    if when is not None:
        return when
    dateparser = _dateparser()
    if dateparser is None:
        return None
    try:
        base = now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        got = dateparser.parse(text, settings={"RELATIVE_BASE": base, "TIMEZONE": tz, "TO_TIMEZONE": "UTC",
                                               "RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "past"})
    except Exception:  # an optional helper: any failure of its own is "not a date"
        return None
    if not isinstance(got, datetime) or got.tzinfo is None:
        return None
    return got.astimezone(UTC)


@functools.lru_cache(maxsize=1)
def _dateparser() -> Any:
    """The ``dateparser`` module when installed (optional, not a dependency), else None."""
    try:
        import dateparser
    except Exception:  # ImportError, or a broken install
        return None
    return dateparser


def decode_json(resp: HttpResponse) -> Any | FetchResult:
    """The JSON document in a response, or a failed FetchResult naming what arrived instead."""
    body = resp.body
    if not body.strip():
        return FetchResult("failed", error="empty body where JSON was expected", http_status=resp.status)
    head = body.lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        ctype = resp.headers.get("content-type", "none")
        return FetchResult("failed", error=f"expected JSON, got HTML/XML (Content-Type: {ctype})",
                           http_status=resp.status)
    charset = resp_charset(resp) or "utf-8"
    try:
        text = body.decode(charset, "replace")
    except LookupError:  # a charset no codec knows ("utf8mb4"): JSON is UTF-8 (RFC 8259)
        text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        what = "truncated JSON (cut off mid-document)" if _unclosed(text) else "malformed JSON"
        return FetchResult("failed", error=f"{what}: {exc.msg} at char {exc.pos} of {len(body):,} bytes",
                           http_status=resp.status)
    except RecursionError:
        return FetchResult("failed", error=f"malformed JSON: nested too deep to read ({len(body):,} bytes)",
                           http_status=resp.status)


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


def resp_charset(resp: HttpResponse) -> str | None:
    m = re.search(r"charset=([\w\-]+)", resp.headers.get("content-type", ""), re.I)
    return m.group(1) if m else None


class SchemaError(Exception):
    """The payload parsed but is not shaped the way this connector knows (a changed API)."""


def dig(data: Any, *path: str | int, kind: type | tuple[type, ...] | None = None, default: Any = ...) -> Any:
    """``data[path[0]][path[1]]...`` or SchemaError naming the missing part."""
    cur = data
    for i, key in enumerate(path):
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError):
            if default is not ...:
                return default
            where = ".".join(str(p) for p in path[: i + 1])
            raise SchemaError(f"response has no {where!r} (the API's format may have changed)") from None
    if kind is not None and not isinstance(cur, kind):
        if default is not ...:
            return default
        where = ".".join(str(p) for p in path)
        raise SchemaError(f"response field {where!r} is {type(cur).__name__}, expected "
                          f"{kind.__name__ if isinstance(kind, type) else '/'.join(k.__name__ for k in kind)}")
    return cur


def stripped(value: Any) -> Any:
    """A platform's text field: stripped when it is a string, "" when missing; any other
    value as sent, for :class:`monitor.mention.Mention` to name in its problems (a number is
    kept as its digits, anything else dropped), never ``.strip()``-ed into an exception."""
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else value


class Pages:
    """Guards a pagination loop: a page cap, and a token that comes back twice."""

    def __init__(self, max_pages: int):
        self.max_pages = max_pages
        self.seen: set[str] = set()
        self.count = 0
        self.warning: str | None = None

    def next(self, token: Any) -> bool:
        """True when the loop should fetch the page for ``token``."""
        if token in (None, "", [], 0) and self.count:
            return False
        self.count += 1
        if self.count > self.max_pages:
            self.warning = f"stopped after {self.max_pages} pages (max_pages); older items not fetched"
            return False
        key = json.dumps(token, sort_keys=True, default=str)
        if key in self.seen:
            self.warning = f"pagination token repeated ({str(token)[:40]}); stopped to avoid a loop"
            return False
        self.seen.add(key)
        return True


def cursor_time(ctx: FetchContext) -> datetime | None:
    """A time cursor (ISO) stored by an earlier poll, or None on the first poll."""
    return parse_time(ctx.cursor) if ctx.cursor else None


def newest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)

