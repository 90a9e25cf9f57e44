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
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar
from urllib.parse import urlsplit

import httpx

from connectors.base import (Connector, FetchContext, Option, Pages, cursor_time, decode_json, dig, newest,
                             parse_time, stripped)
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


class FacebookPageConnector(Connector):
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

    def _get_json(self, url: str, params: dict | None):
        resp = self.get(url, params=params, headers={"Authorization": f"Bearer {self.secret('page_token_env')}"})
        if isinstance(resp, FetchResult):
            return resp, None
        doc = decode_json(resp)
        if isinstance(doc, FetchResult):
            return doc, resp
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            return FetchResult("failed", error="response has no 'data' list (the Graph format may have changed)",
                               http_status=resp.status), resp
        return doc, resp

    def _walk(self, url: str, params: dict, since, warnings: list[str]):
        """Yield items of a Graph edge, following paging.next until items are older than ``since``."""
        pages = Pages(self.source.max_pages)
        next_url, next_params = url, params
        while pages.next(next_url if pages.count else "first"):
            doc, _resp = self._get_json(next_url, next_params)
            if isinstance(doc, FetchResult):
                yield doc
                return
            old = False
            for item in doc["data"]:
                when = parse_time(item.get("created_time")) if isinstance(item, dict) else None
                if since and when and when <= since:
                    old = True
                yield item
            nxt = dig(doc, "paging", "next", default=None)
            if old or not nxt:
                break
            if not isinstance(nxt, str) or _origin(nxt) is None or _origin(nxt) != _origin(url):
                # the page token goes with every request: never to a link that leaves the Graph host
                warnings.append(f"paging.next is not a link on {_origin(url)}; older items not fetched")
                break
            next_url, next_params = nxt, None
        if pages.warning:
            warnings.append(pages.warning)

    def fetch(self, ctx: FetchContext) -> FetchResult:
        base = f"{self.base_url}/{self.opt('api_version')}/{self.opt('page_id')}"
        since = cursor_time(ctx)
        top, mentions, warnings, errors = since, [], [], []

        def add(item: dict, text, guid: str | None, url: str | None, rating: float | None, kind: str):
            nonlocal top
            text = stripped(text)
            when = parse_time(item.get("created_time"))
            if item.get("created_time") and when is None:
                warnings.append(f"{kind}: unknown date format {str(item.get('created_time'))[:40]!r}")
            if since and when and when <= since:
                return
            top = newest(top, when)
            if not text and rating is None:  # a rating without words is kept: its stars speak
                warnings.append(f"{kind} {guid or '?'} has no text; skipped")
                return
            mentions.append(Mention(source_id=self.source.id, title="", text=text, guid=guid, url=url,
                                    published_at=when, rating=rating))

        if self.opt("ratings"):
            fields = "created_time,recommendation_type,rating,review_text,open_graph_story{id}"
            for item in self._walk(f"{base}/ratings", {"fields": fields, "limit": 25}, since, warnings):
                if isinstance(item, FetchResult):
                    errors.append(item)
                    break
                if not isinstance(item, dict):
                    continue
                story = dig(item, "open_graph_story", "id", default=None)
                rec = item.get("recommendation_type")
                rating = item.get("rating") or ({"negative": 1.0, "positive": 5.0}.get(rec) if isinstance(rec, str)
                                                else None)
                guid = f"rating:{story}" if story else f"rating:{item.get('created_time')}"
                add(item, item.get("review_text"), guid, None, rating, "rating")
        if self.opt("posts") > 0:
            fields = ("id,permalink_url,created_time,"
                      "comments.limit(50).order(reverse_chronological){id,message,created_time,permalink_url}")
            resp_doc, _ = self._get_json(f"{base}/posts", {"fields": fields, "limit": self.opt("posts")})
            if isinstance(resp_doc, FetchResult):
                errors.append(resp_doc)
            else:
                for post in resp_doc["data"]:
                    for c in dig(post, "comments", "data", kind=list, default=[]):
                        if isinstance(c, dict):
                            add(c, c.get("message"), f"comment:{c.get('id')}", c.get("permalink_url") or
                                post.get("permalink_url"), None, "comment")
        if errors:
            # the worst error decides (an auth failure outranks a transient one); what the
            # other edge gave is kept
            order = {"auth_failed": 0, "blocked": 1, "rate_limited": 2, "failed": 3}
            worst = min(errors, key=lambda e: order.get(e.status, 9))
            if not mentions or worst.status in ("auth_failed", "blocked", "rate_limited"):
                return replace(worst, mentions=tuple(mentions), warnings=tuple(warnings))
        warnings += [f"part of the page failed: {e.error}" for e in errors]
        return self.ok(mentions, top.isoformat() if top else ctx.cursor, warnings)
