"""The unit of data: a Mention, as a connector produces it, and a FetchResult around it.

Connectors return FetchResult objects and nothing else. Errors are data here: a
failed fetch is a FetchResult with ``status`` set and ``error`` saying why.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.clock import as_utc

FetchStatus = Literal["ok", "not_modified", "failed", "rate_limited", "blocked", "auth_failed"]

# query parameters that never change what a page is
_TRACKING_PARAMS = {"fbclid", "gclid", "igshid", "mc_cid", "mc_eid", "ref", "ref_src", "spm", "ved", "usg", "ct", "cd"}


def canonical_url(url: str | None) -> str | None:
    """A stable form of a URL for de-duplication: lower-case host, no fragment,
    no tracking parameters (utm_*, fbclid, ...), sorted query, no trailing slash."""
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
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


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

    def __post_init__(self) -> None:
        object.__setattr__(self, "published_at", as_utc(self.published_at))

    @property
    def fingerprint(self) -> str:
        """Identity for "stored once": the feed GUID, else the canonical URL, else a hash
        of title and text. GUIDs are scoped to their source; URLs and hashes are global."""
        if self.guid:
            basis = f"guid:{self.source_id}:{self.guid}"
        elif self.url:
            basis = f"url:{canonical_url(self.url)}"
        else:
            norm = unicodedata.normalize("NFKC", f"{self.title}\n{self.text}").casefold()
            basis = "hash:" + " ".join(norm.split())
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()

    @property
    def content(self) -> str:
        """Title and text together, as matching and scoring see them."""
        return join_title_text(self.title, self.text)


@dataclass(frozen=True)
class FetchResult:
    """What one fetch of one source produced."""

    status: FetchStatus
    mentions: tuple[Mention, ...] = ()
    error: str | None = None
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    retry_after: datetime | None = None  # do not poll again before this time
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "not_modified")
