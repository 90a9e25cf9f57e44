"""What every connector shares: the fetch context, the :class:`Connector` base class (a
source's options and credentials, one HTTP request), and :class:`HttpConnector`, the
template every built-in connector fills in: it owns the page loop, the partial-failure
policy and the cursor, so a platform only says how to ask for a page, how to read one
and what the next page is (see the class docstring for the policy).

Errors: :mod:`connectors.http` raises :class:`~connectors.http.FetchFailed` carrying the
finished result; parsing code raises :class:`~connectors.payload.SchemaError` (through
:func:`~connectors.payload.dig`) when a payload is not shaped as expected. Both are caught in one place, ``HttpConnector.fetch``
(and, for plugins that subclass :class:`Connector` directly, :meth:`Connector.poll`).
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Iterable

import httpx

from connectors.dates import parse_time
from connectors.evidence import KeepsEvidence
from connectors.http import (Deadline, FetchFailed, HostLimiter, HttpPolicy, HttpResponse, Transport, blocked,
                             classify_status, rate_limit_reset)
from connectors.payload import SchemaError, newest
from connectors.spec import Source
from monitor.clock import Clock, SystemClock
from monitor.mention import FetchResult, Mention

# a failure that tells the source to stop: the whole fetch ends with it
STOP = ("rate_limited", "blocked", "auth_failed")


@dataclass(frozen=True)
class FetchContext:
    """What a connector knows from earlier polls (kept by the store, passed in)."""

    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None


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


class Connector:
    """Base class. Subclasses set ``type``, describe their extra config keys in
    ``options`` (credentials as ``Option(env=True)``), and implement :meth:`fetch`
    (built-ins subclass :class:`HttpConnector`, which implements it).

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
        directly, ``fetch`` gives each request that deadline instead. A FetchFailed that
        escapes a plugin's ``fetch`` is its result."""
        self._local.deadline = Deadline(self.source.timeout.total_seconds(), self.policy.monotonic)
        try:
            return self.fetch(ctx)
        except FetchFailed as exc:
            return exc.result
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
            params: dict | None = None) -> HttpResponse:
        return self.request("GET", url, ctx, headers=headers, params=params)

    def request(self, method: str, url: str, ctx: FetchContext | None = None, *, headers: dict | None = None,
                params: dict | None = None, data: dict | None = None, json_body: Any = None,
                auth: tuple[str, str] | None = None) -> HttpResponse:
        """One HTTP request with conditional headers (from ``ctx``), timeouts, a size cap,
        the host's rate limit and retries: a 2xx response, or FetchFailed carrying the
        finished result for anything else (304, errors)."""
        hdrs = {"User-Agent": self.user_agent, "Accept": self.accept}
        # validators are echoed as the server sent them; one httpx cannot send (not ASCII) is left out
        if ctx and ctx.etag and ctx.etag.isascii():
            hdrs["If-None-Match"] = ctx.etag
        if ctx and ctx.last_modified and ctx.last_modified.isascii():
            hdrs["If-Modified-Since"] = ctx.last_modified
        hdrs.update(headers or {})
        timeout = self.source.timeout.total_seconds()
        # the fetch's deadline (poll), or this request's own one (fetch called directly)
        deadline = getattr(self._local, "deadline", None) or Deadline(timeout, self.policy.monotonic)
        transport = Transport(self.client, self.policy, self.limiter, timeout, self.source.max_bytes, self.classify,
                              self.blocked)
        return transport.send(method, url, deadline, headers=hdrs, params=params, data=data, json=json_body,
                              auth=auth)

    def blocked(self, status: int, why: str) -> FetchResult:
        """An anti-bot wall: reported as blocked (not an error), and the source backs off an hour."""
        return blocked(status, why, self.clock.now())

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        """A finished result for a non-2xx status, or None when it is worth retrying.
        Connectors whose platform reports errors in the body (Graph API, YouTube) override
        this and fall back to ``super().classify``."""
        return classify_status(status, headers, head, self.clock.now(), self.policy.max_retry_after)


# --------------------------------------------------------------------------- the template


@dataclass(frozen=True)
class PageRequest:
    """How to ask for one page (Airbyte's path + request_params + request_headers)."""

    url: str
    params: dict | None = None
    headers: dict | None = None


class TimeCursor:
    """A cursor that is the newest publication time seen (ISO 8601, aware UTC)."""

    def __init__(self, stored: str | None):
        self.since: datetime | None = parse_time(stored) if stored else None
        self.top = self.since

    def is_old(self, when: datetime | None) -> bool:
        """Read by an earlier poll (at or before the stored cursor)."""
        return self.since is not None and when is not None and when <= self.since

    def see(self, when: datetime | None) -> None:
        self.top = newest(self.top, when)

    def dump(self) -> str | None:
        return self.top.isoformat() if self.top else None


class IdCursor:
    """A cursor that is the greatest integer id seen (post ids, status ids, epoch seconds).
    ``floor``: the cursor before any poll (ids at or below it count as old)."""

    def __init__(self, stored: str | None, floor: int | None = None):
        self.floor = floor
        self.since = int(stored) if stored and stored.isascii() and stored.isdigit() else floor
        self.top = self.since

    def is_old(self, value: int | None) -> bool:
        return self.since is not None and value is not None and value <= self.since

    def see(self, value: int | None) -> None:
        if value is not None:
            self.top = value if self.top is None else max(self.top, value)

    def dump(self) -> str | None:
        return None if self.top is None or self.top == self.floor else str(self.top)


@dataclass
class Walk:
    """One fetch's state, handed to a connector's page hooks."""

    ctx: FetchContext
    cursor: TimeCursor | IdCursor
    mentions: list[Mention] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pending: list = field(default_factory=list)  # found on pages, read by ``complete`` (PTT's articles)
    stream: Any = None  # the stream being read (see HttpConnector.streams)
    token: Any = None  # the token of the page being read (None for a stream's first page)
    page: int = 0  # the page being read in that stream, from 1
    last: HttpResponse | None = None  # the last page answered (its rate-limit headers count)
    etag: str | None = None
    last_modified: str | None = None

    @property
    def read(self) -> bool:
        return bool(self.mentions or self.pending)


class HttpConnector(KeepsEvidence, Connector):
    """The template (Airbyte CDK's HttpStream): the page loop, the pagination guard
    (``max_pages``, a token that comes back), conditional GET on the first page
    (``supports_304``), the cursor, errors and partial failures. A platform gives:

    * :meth:`page_request` (token -> URL, params, headers; the first token is None);
    * :meth:`parse_page` (a response -> mentions appended to ``walk.mentions``, using
      ``walk.cursor.is_old``/``see``; returns the next page's token, None after the last);

    and where it needs them: :meth:`start` (an id cursor instead of a time),
    :meth:`streams` (several endpoints in one fetch), :meth:`send_page` (a login retry, a
    gate page), :meth:`ends_stream` (a failure that only means "no more"),
    :meth:`complete` (second-level reads, closing warnings), :meth:`forget_credentials`
    (drop a cached token the platform refused), :meth:`stream_label`, ``classify``.

    Errors: a request, decoding or parsing problem raises FetchFailed (a SchemaError
    becomes "failed" with the page's HTTP status); :meth:`fetch` catches them, once.

    Evidence (:class:`~connectors.evidence.KeepsEvidence`): :meth:`poll` attaches the GET
    responses read, and a complete listing (``list_item``, ``list_covered``), to the result.

    Partial failures, one policy for every connector: **what was read is kept**.

    * A failure that tells the source to stop (rate_limited, blocked, auth_failed) ends
      the whole fetch with that status, error and retry time, carrying the mentions read
      before it: the source backs off as the platform asked (reporting "ok" would lose
      the retry time and run into the limit again), and what was already fetched is not
      held back for a whole back-off (dropping it would delay alerts).
    * Any other failure (a 5xx after retries, a timeout, bad JSON, a changed schema) ends
      the stream it happened in. When nothing was read at all, the fetch fails with it
      (several streams' failures joined). Otherwise the fetch is "ok" with what was read,
      a warning naming the page that failed, and the **old cursor**: the next poll reads
      again from where this one started (the store drops what it has seen), since a
      cursor moved past a page never read would lose that page for good.
    """

    # ------------------------------------------------------------------ hooks

    def start(self, ctx: FetchContext) -> Walk:
        """A new fetch's state: by default a Walk with a time cursor. A connector whose
        cursor is an id returns one with an :class:`IdCursor` (or a Walk subclass with
        state of its own)."""
        return Walk(ctx, TimeCursor(ctx.cursor))

    def streams(self) -> Iterable[Any]:
        """What one fetch reads, one page walk each (endpoints, channels, videos)."""
        return (None,)

    def stream_label(self, stream: Any) -> str:
        """How a warning names a stream that failed ("" for the only one)."""
        return "" if stream is None else str(stream)

    def page_request(self, token: Any, walk: Walk) -> PageRequest:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_page(self, resp: HttpResponse, walk: Walk) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def send_page(self, req: PageRequest, walk: Walk) -> HttpResponse:
        conditional = self.supports_304 and walk.page == 1 and walk.last is None
        return self.get(req.url, walk.ctx if conditional else None, headers=req.headers, params=req.params)

    def ends_stream(self, failure: FetchResult, walk: Walk) -> str | None:
        """None: ``failure`` is one. A string: the stream simply ends, with that warning
        (or none when it is empty), e.g. a 404 past the last page of search results."""
        return None

    def complete(self, walk: Walk) -> None:
        """After the last stream: second-level reads and closing warnings. May raise
        FetchFailed to end the fetch with that result (what was read is kept)."""

    def forget_credentials(self) -> None:
        """The platform refused the credentials: drop any cached token."""

    # ------------------------------------------------------------------ the loop

    def fetch(self, ctx: FetchContext) -> FetchResult:
        walk = self._local.walk = self.start(ctx)  # KeepsEvidence counts its mentions
        failed: list[tuple[Any, int, FetchResult]] = []  # (stream, page, result)
        for stream in self.streams():
            walk.stream, walk.page = stream, 0
            try:
                self._walk_stream(walk)
            except FetchFailed as exc:
                if exc.result.status == "auth_failed":
                    self.forget_credentials()
                if exc.result.status in STOP:
                    return self._stopped(exc.result, walk)
                note = self.ends_stream(exc.result, walk)
                if note is None:
                    failed.append((stream, walk.page, exc.result))
                elif note:
                    walk.warnings.append(note)
        if failed and not walk.read:
            return self._failed(failed, walk)
        try:
            self.complete(walk)
        except FetchFailed as exc:
            return self._stopped(exc.result, walk)
        for stream, page, result in failed:
            label = self.stream_label(stream)
            where = f"{label}: page {page}" if label and page > 1 else label or f"page {page}"
            walk.warnings.append(f"{where} failed: {result.error}")
        last = walk.last
        return FetchResult(
            "ok", mentions=tuple(walk.mentions), warnings=tuple(walk.warnings), etag=walk.etag,
            last_modified=walk.last_modified, cursor=walk.ctx.cursor if failed else walk.cursor.dump() or walk.ctx.cursor,
            http_status=last.status if last else None,
            retry_after=rate_limit_reset(last.headers, self.clock.now()) if last else None)

    def _walk_stream(self, walk: Walk) -> None:
        pages, token = Pages(self.source.max_pages), None
        while pages.next(token):
            walk.page, walk.token = pages.count, token
            resp = self.send_page(self.page_request(token, walk), walk)
            if self.supports_304 and walk.last is None:
                walk.etag, walk.last_modified = resp.headers.get("etag"), resp.headers.get("last-modified")
            walk.last = resp
            try:
                token = self.parse_page(resp, walk)
            except SchemaError as exc:
                raise FetchFailed(FetchResult("failed", error=str(exc), http_status=resp.status)) from None
        if pages.warning:
            walk.warnings.append(pages.warning)

    @staticmethod
    def _stopped(result: FetchResult, walk: Walk) -> FetchResult:
        return replace(result, mentions=tuple(walk.mentions), warnings=result.warnings + tuple(walk.warnings))

    def _failed(self, failed: list[tuple[Any, int, FetchResult]], walk: Walk) -> FetchResult:
        if len(failed) == 1:
            result = failed[0][2]
            return replace(result, warnings=result.warnings + tuple(walk.warnings))
        error = "; ".join(f"{self.stream_label(s) or 'page'}: {r.error}" for s, _, r in failed)
        return FetchResult("failed", error=error, warnings=tuple(walk.warnings))


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
