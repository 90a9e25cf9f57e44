"""Mastodon statuses matching a search on one instance: ``GET /api/v2/search``
(type=statuses), newer than the last status seen (``min_id``).

Platform rules: full-text search of statuses needs an access token on most
instances (without one, only exact URLs and your own posts are found), and only
posts that opted into search (indexable) are returned. 300 requests per 5 minutes
per account (``X-RateLimit-*`` headers, reset as an ISO time, are honoured).

Config: ``url`` (the instance, required, e.g. https://mastodon.social), ``query``
(required), ``access_token_env`` (MASTODON_ACCESS_TOKEN; optional but needed for
results on most instances).
"""
from __future__ import annotations

from typing import ClassVar

from connectors.base import FetchContext, HttpConnector, IdCursor, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import dig, stripped
from connectors.rss import html_to_text
from monitor.mention import Mention


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an id of Infinity
        return -1


class MastodonConnector(HttpConnector):
    type: ClassVar[str] = "mastodon"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "query": Option(str, required=True, help="search terms"),
        "access_token_env": Option(env=True, required=False, default="MASTODON_ACCESS_TOKEN"),
    }

    def start(self, ctx: FetchContext) -> Walk:
        # status ids grow over time: the greatest one seen is the cursor (-1: none yet; a
        # status whose id is not a number counts as -1 and is never read)
        return Walk(ctx, IdCursor(ctx.cursor, floor=-1))

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        headers = {}
        if self.secret("access_token_env"):
            headers["Authorization"] = f"Bearer {self.secret('access_token_env')}"
        params = {"q": self.opt("query"), "type": "statuses", "limit": 40, "resolve": "false"}
        if walk.cursor.since >= 0:
            params["min_id"] = str(walk.cursor.since)
        if token:
            params["max_id"] = token
        return PageRequest(f"{self.base_url}/api/v2/search", params, headers)

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        statuses = dig(decode_json(resp), "statuses", kind=list)
        for st in statuses:
            if not isinstance(st, dict):
                continue
            sid = _id(st.get("id"))
            if walk.cursor.is_old(sid):
                continue
            walk.cursor.see(sid)
            content = st.get("content")
            text = html_to_text(content) if isinstance(content, str) else stripped(content)  # else Mention names it
            cw = stripped(st.get("spoiler_text"))
            if not text and not cw:
                walk.warnings.append(f"status {str(st.get('id'))[:40]} has no text; skipped")
                continue
            when = parse_time(st.get("created_at"))
            if st.get("created_at") and when is None:
                walk.warnings.append(f"status {str(st.get('id'))[:40]}: unknown date format "
                                     f"{str(st.get('created_at'))[:40]!r}")
            walk.mentions.append(Mention(
                source_id=self.source.id, title=cw, text=text, guid=st.get("uri") or st.get("id"),
                url=st.get("url") or st.get("uri"), author=dig(st, "account", "acct", default=None),
                published_at=when, lang=st.get("language"),
            ))
        ids = [_id(st.get("id")) for st in statuses if isinstance(st, dict)]
        if len(statuses) < 40 or not ids or walk.cursor.is_old(min(ids)):
            return None
        return str(min(ids))
