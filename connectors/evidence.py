"""The raw responses a fetch read, kept as evidence (issue 18) and attached to its
:class:`~monitor.mention.FetchResult`; the store stage writes them, connectors never do.

What is kept, and what never is:

* only 2xx responses to GET requests: a POST is a token exchange or a login, whose body
  holds credentials, and is never kept;
* response headers without cookies or credentials (:data:`SECRET_HEADERS`, and any header
  whose name mentions a token, secret, session or key);
* the final URL with the values of credential-like query parameters replaced by
  ``REDACTED`` (``key``, ``access_token``, ``client_secret``, ``signature`` ...);
* the body as received, while the fetch's kept bodies total at most :data:`BODY_CAP`
  bytes; beyond it a response keeps its hash, URL, time and headers but not its body, so
  one fetch never holds more than the cap in memory for evidence.

Each mention is linked to the response it was made from: the last response read before
the connector appended it (a page's items come from that page; PTT's articles from the
article request that precedes each).
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import replace
from datetime import datetime
from typing import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.http import HttpResponse
from connectors.spec import Source
from monitor.clock import Clock
from monitor.mention import FetchResult, Listing, RawResponse, guid_fingerprint

BODY_CAP = 16 * 1024 * 1024  # bytes of bodies one fetch keeps as evidence
SECRET_HEADERS = frozenset({"set-cookie", "set-cookie2", "cookie", "authorization", "proxy-authorization",
                            "www-authenticate", "proxy-authenticate"})
_SECRET_NAME = re.compile(r"token|secret|session|passw|api[-_]?key|auth|signature|sig$|^key$|credential", re.I)


def kept_headers(headers) -> tuple[tuple[str, str], ...]:
    """The response headers worth keeping: names lower-cased, secrets dropped."""
    out = []
    for name, value in headers.multi_items() if hasattr(headers, "multi_items") else headers:
        name = name.lower()
        if name in SECRET_HEADERS or _SECRET_NAME.search(name):
            continue
        out.append((name, value))
    return tuple(out)


def redacted_url(url: str) -> str:
    """``url`` with the values of credential-like query parameters replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    query = [(k, "REDACTED" if _SECRET_NAME.search(k) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    netloc = parts.netloc.rsplit("@", 1)[-1]  # user:password@host
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


class Recorder:
    """The GET responses of one fetch, each with how many mentions had been made before it,
    and what the connector said about its listing."""

    def __init__(self, now: Callable[[], datetime], cap: int = BODY_CAP):
        self._now = now
        self._cap = cap
        self._kept = 0
        self.seen: list[tuple[int, RawResponse]] = []
        self.listed: set[str] = set()
        self.since: datetime | None = None
        self.covered = False
        self.unnamed = False  # the listing held an item it could not name: it proves no removal

    def saw(self, resp: HttpResponse, made: int) -> None:
        """Record ``resp``, read after ``made`` mentions had been made."""
        body: bytes | None = resp.body
        if self._kept + len(resp.body) > self._cap:
            body = None
        else:
            self._kept += len(resp.body)
        self.seen.append((made, RawResponse(redacted_url(resp.url), resp.status, self._now(),
                                            kept_headers(resp.headers), hashlib.sha256(resp.body).hexdigest(), body)))

    def attach(self, result: FetchResult, source_id: str) -> FetchResult:
        """``result`` with the responses its mentions were made from, and the listing when
        the connector read one completely and the fetch succeeded."""
        owners: dict[int, set[str]] = {}
        at = -1
        for i, mention in enumerate(result.mentions):
            while at + 1 < len(self.seen) and self.seen[at + 1][0] <= i:
                at += 1
            if at >= 0:
                owners.setdefault(at, set()).add(mention.fingerprint)
        complete = self.covered and not self.unnamed and result.status == "ok"
        raw = tuple(replace(r, fingerprints=frozenset(owners.get(k, ()))) for k, (_, r) in enumerate(self.seen)
                    if k in owners or complete)
        listing = None
        if complete:
            listed = self.listed | {m.fingerprint for m in result.mentions if m.source_id == source_id}
            listing = Listing(frozenset(listed), self.since, raw)
        return replace(result, raw=raw, listing=listing)


class KeepsEvidence:
    """Mixed into :class:`~connectors.base.HttpConnector`: every :meth:`poll` records the
    GET responses it reads and attaches them to its result. A connector whose listing is
    complete for a range (every item published since a time, newest first) names each
    listed item with :meth:`list_item`, including those it skips as already seen (an item
    it cannot name: :meth:`list_unnamed`), and calls :meth:`list_covered` once the pages
    down to the range's start were all read."""

    _local: threading.local
    clock: Clock
    source: Source

    def poll(self, ctx) -> FetchResult:
        recorder = self._local.recorder = Recorder(self.clock.now)
        try:
            result = super().poll(ctx)
        finally:
            self._local.recorder = self._local.walk = None
        return recorder.attach(result, self.source.id)

    def get(self, url: str, ctx=None, headers: dict | None = None, params: dict | None = None) -> HttpResponse:
        resp = super().get(url, ctx, headers=headers, params=params)
        recorder = getattr(self._local, "recorder", None)
        if recorder is not None:
            walk = getattr(self._local, "walk", None)
            recorder.saw(resp, len(walk.mentions) if walk is not None else 0)
        return resp

    def list_item(self, guid: str, when: datetime | None) -> None:
        """The listing names item ``guid`` (published ``when``), produced or not."""
        recorder = getattr(self._local, "recorder", None)
        if recorder is not None:
            recorder.listed.add(guid_fingerprint(self.source.id, guid))
            if when is not None and (recorder.since is None or when < recorder.since):
                recorder.since = when

    def list_unnamed(self) -> None:
        """The listing holds an item without a usable id: this fetch's listing proves nothing."""
        recorder = getattr(self._local, "recorder", None)
        if recorder is not None:
            recorder.unnamed = True

    def list_covered(self) -> None:
        """Every item listed from now back to the oldest one named has been named."""
        recorder = getattr(self._local, "recorder", None)
        if recorder is not None:
            recorder.covered = True
