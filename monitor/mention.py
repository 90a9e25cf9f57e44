"""The unit of data: a Mention, as a connector produces it, and a FetchResult around it.

Connectors return FetchResult objects and nothing else. Errors are data here: a
failed fetch is a FetchResult with ``status`` set and ``error`` saying why.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.clock import as_utc
from monitor.text import content_key

FetchStatus = Literal["ok", "not_modified", "failed", "rate_limited", "blocked", "auth_failed"]

# query parameters that never change what a page is
_TRACKING_PARAMS = {"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "spm", "ved", "usg", "ct", "cd"}


# host prefixes that name the same site for another device: m.example.com is example.com
_HOST_PREFIXES = ("www.", "m.", "mobile.")


def clean_url(url: str | None) -> str | None:
    """A URL as stored and shown: lower-case host, no fragment, no tracking parameters
    (utm_*, fbclid, ...), sorted query, no trailing slash. The host keeps its ``www.``
    or ``m.``: a link people click must still work."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url.strip()
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS
    )
    path = parts.path.rstrip("/") or "/"
    host = parts.netloc.lower()
    if host.endswith(":443") and parts.scheme == "https":
        host = host[:-4]
    elif host.endswith(":80") and parts.scheme == "http":
        host = host[:-3]
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def canonical_url(url: str | None) -> str | None:
    """The identity of a URL for de-duplication: :func:`clean_url`, then the scheme made
    https and the ``www.``, ``m.`` or ``mobile.`` host prefix dropped, so the mobile and
    desktop links of one article are one key. Not for display (see :func:`clean_url`)."""
    cleaned = clean_url(url)
    if not cleaned:
        return None
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # "http://[::1": clean_url kept it as text, and so does the key
        return cleaned
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return cleaned
    host = parts.netloc
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and "." in host[len(prefix):]:
            host = host[len(prefix):]
            break
    return urlunsplit(("https", host, parts.path, parts.query, ""))


def join_title_text(title: str, text: str) -> str:
    """Title and text as one string, without repeating a title the text already starts with."""
    if title and text and not text.startswith(title):
        return f"{title}\n{text}"
    return text or title


@dataclass(frozen=True)
class Mention:
    """Something said somewhere, as fetched. Times are aware UTC."""

    source_id: str
    title: str
    text: str
    url: str | None = None
    guid: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    rating: float | None = None  # 1..5 where the platform has stars
    lang: str | None = None
    # a reply or comment: the URL of the thread (post, article) it answers; None for a thread itself
    parent_url: str | None = None
    # what was wrong with the fields as the platform sent them, and what was done about it
    # (set by __post_init__; the poll reports them as warnings against the source)
    problems: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        """Fields are checked where a Mention is made, so one malformed item never reaches
        storage: text fields must be strings (a number is taken as its digits, anything
        else becomes empty), optional ones strings or None, ``rating`` a number 1..5,
        ``published_at`` a datetime; a bad value is dropped and named in ``problems``.
        A guid that is not a string or a whole number (a dict, a list, "") is no guid:
        identity falls back to the URL or the content."""
        if not isinstance(self.source_id, str) or not self.source_id:
            raise TypeError(f"Mention.source_id must be a non-empty string, not {_kind(self.source_id)}")
        problems = list(self.problems)

        def put(name: str, value: Any, problem: str | None = None) -> None:
            object.__setattr__(self, name, value)
            if problem:
                problems.append(f"{name} {problem}")

        for name in ("title", "text"):
            value = getattr(self, name)
            if value is None:
                put(name, "")
            elif _is_number(value):
                put(name, str(value), f"was {_kind(value)}, not text; kept as {str(value)[:20]!r}")
            elif not isinstance(value, str):
                put(name, "", f"was {_kind(value)}, not text; dropped")
        for name in ("url", "parent_url", "author", "lang", "guid"):
            value = getattr(self, name)
            if isinstance(value, str):
                put(name, value.strip() or None)
            elif value is None:
                continue
            elif name in ("guid", "author") and _is_number(value) and isinstance(value, int):
                put(name, str(value))  # numeric ids are common and fine
            elif name == "guid":
                put(name, None, f"was {_kind(value)}, not a string; identity falls back to the URL or the content")
            else:
                put(name, None, f"was {_kind(value)}, not a string; dropped")
        rating = self.rating
        if rating is not None:
            number = _number(rating)
            if number is None or not 1 <= number <= 5:
                put("rating", None, f"{_show(rating)} is not a number from 1 to 5; dropped")
            else:
                put("rating", number)
        published = self.published_at
        if published is not None and not isinstance(published, datetime):
            put("published_at", None, f"was {_kind(published)}, not a datetime; dropped")
        else:
            put("published_at", as_utc(published))
        object.__setattr__(self, "problems", tuple(problems))

    @property
    def fingerprint(self) -> str:
        """Identity for "stored once": the feed GUID, else the canonical URL, else a hash
        of title and text. GUIDs are scoped to their source; URLs and hashes are global.
        Storage adds a second key across sources: the canonical URL (one article fetched
        by a feed and by Google Alerts is stored once)."""
        if self.guid:
            return guid_fingerprint(self.source_id, self.guid)
        if self.url:
            basis = f"url:{canonical_url(self.url)}"
        else:
            basis = "hash:" + content_key(self.title, self.text)
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()

    @property
    def content(self) -> str:
        """Title and text together, as matching and scoring see them."""
        return join_title_text(self.title, self.text)


def guid_fingerprint(source_id: str, guid: str) -> str:
    """The fingerprint of the item ``guid`` of ``source_id`` (what :attr:`Mention.fingerprint`
    is for an item with a GUID), for a listing that names items it does not produce."""
    return hashlib.sha256(f"guid:{source_id}:{guid}".encode("utf-8")).hexdigest()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    """A finite number from a number or a numeric string ("4", "4.5"); None otherwise."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not _is_number(value) or not math.isfinite(value):
        return None
    return float(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), f"a {type(value).__name__}")


def _show(value: Any) -> str:
    """A bad value named without quoting much of it (it may be someone's words)."""
    if isinstance(value, str) or _is_number(value):
        return repr(value if not isinstance(value, str) else value[:20])
    return _kind(value)


@dataclass(frozen=True)
class RawResponse:
    """One 2xx GET response a fetch read, kept as evidence (issue 18): the final URL (query
    secrets redacted), when it arrived (UTC), the status, the response headers without
    cookies or credentials, the body as received (None when over the fetch's evidence cap;
    ``sha256`` is always the hash of the whole body) and the fingerprints of the mentions
    made from it."""

    url: str
    status: int
    fetched_at: datetime
    headers: tuple[tuple[str, str], ...]
    sha256: str
    body: bytes | None
    fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Listing:
    """A listing read completely for a range: every item the platform lists that was
    published after ``since`` (the oldest time among the items named; None when it named
    none, and then it proves nothing) is among ``fingerprints``, produced as a mention or
    skipped as already seen. ``pages``: the responses read. A stored mention of the source
    published in that range whose fingerprint is missing was removed."""

    fingerprints: frozenset[str]
    since: datetime | None
    pages: tuple[RawResponse, ...] = ()


@dataclass(frozen=True)
class FetchResult:
    """What one fetch of one source produced; ``raw`` and ``listing`` are its evidence
    (:class:`RawResponse`, :class:`Listing`), left out of comparisons."""

    status: FetchStatus
    mentions: tuple[Mention, ...] = ()
    error: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    retry_after: datetime | None = None  # do not poll again before this time
    warnings: tuple[str, ...] = field(default=())
    raw: tuple[RawResponse, ...] = field(default=(), compare=False, repr=False)
    listing: Listing | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "not_modified")
