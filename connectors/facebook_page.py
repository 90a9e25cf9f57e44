"""A Facebook Page: its ratings/recommendations and the comments on its recent posts,
through the Graph API with a Page access token.

Graph reports errors in the body, and the status alone misleads: an expired or
revoked token (OAuthException, code 190) comes back as HTTP 400, and rate limiting
(codes 4, 17, 32, 613, 80001) as 400 or 403. Both are classified from the body.
Ratings have no id of their own; the open-graph story id is used when present.

Config: ``page_id`` (required), ``api_version`` (default v21.0), ``posts`` (recent
posts to read comments from, default 10; 0 turns comments off), ``ratings``
(default true), ``page_token_env`` (FACEBOOK_PAGE_TOKEN; needs
pages_read_user_content and pages_read_engagement).
"""
from __future__ import annotations

import json
from datetime import timedelta
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import FetchResult, Mention

_RATE_CODES = {4, 17, 32, 613, 80001, 80004}
_AUTH_CODES = {102, 190, 10, 200, 299}


def graph_error(status: int, head: bytes, now) -> FetchResult | None:
    try:
        err = json.loads(head.decode("utf-8", "replace")).get("error")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, RecursionError):
        return None
    if not isinstance(err, dict):
        return None
    code = err.get("code") if isinstance(err.get("code"), int) else None  # a list is not a code (nor hashable)
    msg = (f"Graph error {str(err.get('code'))[:20]}/{str(err.get('error_subcode', '-'))[:20]} "
           f"{str(err.get('type', ''))[:40]}: {str(err.get('message', ''))[:200]}")
    if code in _RATE_CODES:
        return FetchResult("rate_limited", error=msg, http_status=status, retry_after=now + timedelta(hours=1))
    if code in _AUTH_CODES or err.get("type") == "OAuthException":
        return FetchResult("auth_failed", error=msg, http_status=status)
    return FetchResult("failed", error=msg, http_status=status) if status < 500 else None


def _origin(url: str) -> str | None:
    """scheme://host[:port] of a link, None for one that does not parse."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}" if parts.netloc else None


class FacebookPageConnector(HttpConnector):
    type: ClassVar[str] = "facebook_page"
    default_url: ClassVar[str] = "https://graph.facebook.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "page_id": Option(str, required=True, help="numeric Page id"),
        "api_version": Option(str, default="v21.0"),
        "posts": Option(int, default=10, help="recent posts whose comments are read (0: none)"),
        "ratings": Option(bool, default=True, help="read the Page's ratings/recommendations"),
        "page_token_env": Option(env=True, required=True, default="FACEBOOK_PAGE_TOKEN"),
    }

    def classify(self, status: int, headers: httpx.Headers, head: bytes) -> FetchResult | None:
        return graph_error(status, head, self.clock.now()) or super().classify(status, headers, head)

    def streams(self) -> list[str]:
        """Two edges: the Page's ratings (paged), then its recent posts with their comments."""
        return (["ratings"] if self.opt("ratings") else []) + (["posts"] if self.opt("posts") > 0 else [])

    def stream_label(self, stream: str) -> str:
        return "part of the page"

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        base = f"{self.base_url}/{self.opt('api_version')}/{self.opt('page_id')}"
        auth = {"Authorization": f"Bearer {self.secret('page_token_env')}"}
        if walk.stream == "posts":
            fields = ("id,permalink_url,created_time,"
                      "comments.limit(50).order(reverse_chronological){id,message,created_time,permalink_url}")
            return PageRequest(f"{base}/posts", {"fields": fields, "limit": self.opt("posts")}, auth)
        if token:  # paging.next: a whole URL, its parameters included
            return PageRequest(token, None, auth)
        fields = "created_time,recommendation_type,rating,review_text,open_graph_story{id}"
        return PageRequest(f"{base}/ratings", {"fields": fields, "limit": 25}, auth)

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            raise SchemaError("response has no 'data' list (the Graph format may have changed)")
        if walk.stream == "posts":
            for post in doc["data"]:
                for c in dig(post, "comments", "data", kind=list, default=[]):
                    if isinstance(c, dict):
                        self._add(walk, c, c.get("message"), f"comment:{c.get('id')}",
                                  c.get("permalink_url") or post.get("permalink_url"), None, "comment")
            return None  # the recent posts only: no paging
        old = False
        for item in doc["data"]:
            if not isinstance(item, dict):
                continue
            old = old or walk.cursor.is_old(parse_time(item.get("created_time")))
            story = dig(item, "open_graph_story", "id", default=None)
            rec = item.get("recommendation_type")
            rating = item.get("rating") or ({"negative": 1.0, "positive": 5.0}.get(rec) if isinstance(rec, str)
                                            else None)
            guid = f"rating:{story}" if story else f"rating:{item.get('created_time')}"
            self._add(walk, item, item.get("review_text"), guid, None, rating, "rating")
        nxt = dig(doc, "paging", "next", default=None)
        if old or not nxt:
            return None
        graph = _origin(self.page_request(None, walk).url)
        if not isinstance(nxt, str) or _origin(nxt) is None or _origin(nxt) != graph:
            # the page token goes with every request: never to a link that leaves the Graph host
            walk.warnings.append(f"paging.next is not a link on {graph}; older items not fetched")
            return None
        return nxt

    def _add(self, walk: Walk, item: dict, text, guid: str | None, url: str | None, rating: float | None,
             kind: str) -> None:
        text = stripped(text)
        when = parse_time(item.get("created_time"))
        if item.get("created_time") and when is None:
            walk.warnings.append(f"{kind}: unknown date format {str(item.get('created_time'))[:40]!r}")
        if walk.cursor.is_old(when):
            return
        walk.cursor.see(when)
        if not text and rating is None:  # a rating without words is kept: its stars speak
            walk.warnings.append(f"{kind} {guid or '?'} has no text; skipped")
            return
        walk.mentions.append(Mention(source_id=self.source.id, title="", text=text, guid=guid, url=url,
                                     published_at=when, rating=rating))
