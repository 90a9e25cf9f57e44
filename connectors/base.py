"""What every connector shares: the fetch context, and an HTTP GET that turns every
failure into data.

Error policy (a table, not exceptions): 2xx parse; 304 "not modified" is a normal
result; 401/403 auth_failed (stop polling until the config changes; a 403 that looks
like an anti-bot challenge is "blocked"); 429 rate_limited with Retry-After honoured;
5xx and network errors transient: retried with exponential backoff and jitter, then
"failed"; other 4xx failed. Bodies are streamed and cut off at ``max_bytes``.
"""
from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, ClassVar

import httpx

from monitor.clock import UTC, Clock, SystemClock
from monitor.config import Source
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


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


_CHALLENGE_MARKERS = (b"cf-challenge", b"challenge-platform", b"Just a moment...", b"captcha", b"Attention Required!")


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as seconds or an HTTP date -> absolute aware UTC time."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class BodyTooLarge(Exception):
    pass


class Connector:
    """Base class. Subclasses set ``type``, list their extra config keys in
    ``option_keys``, and implement :meth:`fetch`."""

    type: ClassVar[str] = ""
    option_keys: ClassVar[tuple[str, ...]] = ()
    accept: ClassVar[str] = "*/*"

    def __init__(self, source: Source, client: httpx.Client, clock: Clock | None = None,
                 policy: HttpPolicy | None = None, user_agent: str = "repwatch"):
        self.source = source
        self.client = client
        self.clock = clock or SystemClock()
        self.policy = policy or HttpPolicy()
        self.user_agent = user_agent

    def fetch(self, ctx: FetchContext) -> FetchResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ HTTP

    def get(self, url: str, ctx: FetchContext | None = None, headers: dict | None = None) -> HttpResponse | FetchResult:
        """GET with conditional headers, timeouts, a size cap and retries.

        Returns an HttpResponse for 200-299, or a finished FetchResult for anything
        else (304, errors), so the caller's happy path stays short."""
        hdrs = {"User-Agent": self.user_agent, "Accept": self.accept}
        if ctx and ctx.etag:
            hdrs["If-None-Match"] = ctx.etag
        if ctx and ctx.last_modified:
            hdrs["If-Modified-Since"] = ctx.last_modified
        hdrs.update(headers or {})
        timeout = self.source.timeout.total_seconds()
        last_error = "no attempt made"
        last_status: int | None = None
        for attempt in range(1, self.policy.attempts + 1):
            try:
                with self.client.stream("GET", url, headers=hdrs, timeout=timeout) as resp:
                    status = resp.status_code
                    if 200 <= status < 300:
                        body = self._read_capped(resp)
                        return HttpResponse(status, resp.headers, body, str(resp.url))
                    head = self._read_capped(resp, limit=64_000, truncate=True)
                    outcome = self._classify(status, resp.headers, head)
                    if outcome is not None:
                        return outcome
                    last_status = status
                    last_error = f"HTTP {status} {resp.reason_phrase}".strip()
            except BodyTooLarge as exc:
                return FetchResult("failed", error=str(exc))
            except httpx.TimeoutException as exc:
                last_error = f"timed out after {timeout:g}s ({type(exc).__name__})"
            except httpx.TooManyRedirects:
                return FetchResult("failed", error="too many redirects (redirect loop?)")
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if attempt < self.policy.attempts:
                delay = self.policy.backoff * (2 ** (attempt - 1))
                self.policy.sleep(delay * (0.5 + self.policy.rand() / 2))  # jitter: 50-100 %
        return FetchResult("failed", error=f"{last_error} (after {self.policy.attempts} attempts)",
                           http_status=last_status)

    def _read_capped(self, resp: httpx.Response, limit: int | None = None, truncate: bool = False) -> bytes:
        limit = limit or self.source.max_bytes
        declared = resp.headers.get("content-length")
        if not truncate and declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"body of {int(declared):,} bytes exceeds max_bytes={limit:,}")
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > limit:
                if truncate:
                    chunks.append(chunk[: limit - (size - len(chunk))])
                    break
                raise BodyTooLarge(f"body exceeds max_bytes={limit:,} (stopped reading)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        """A finished result for a non-2xx status, or None when it is worth retrying."""
        now = self.clock.now()
        if status == 304:
            return FetchResult("not_modified", http_status=304)
        if status == 429:
            until = parse_retry_after(headers.get("retry-after"), now) or now + timedelta(minutes=5)
            until = min(until, now + self.policy.max_retry_after)
            return FetchResult("rate_limited", error=f"HTTP 429 rate limited; retry after {until.isoformat()}",
                               http_status=429, retry_after=until)
        if status in (401, 403):
            if status == 403 and any(m.lower() in head.lower() for m in _CHALLENGE_MARKERS):
                return FetchResult("blocked", error="HTTP 403 anti-bot challenge page", http_status=403,
                                   retry_after=now + timedelta(hours=1))
            return FetchResult("auth_failed", error=f"HTTP {status}: credentials refused or access denied",
                               http_status=status)
        if status >= 500 or status == 408:
            return None
        return FetchResult("failed", error=f"HTTP {status}", http_status=status)
