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

from connectors.base import (Connector, FetchContext, Option, Pages, SchemaError, decode_json, dig,
                             parse_time, stripped)
from connectors.rss import html_to_text
from monitor.mention import FetchResult, Mention


def _id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an id of Infinity
        return -1


class MastodonConnector(Connector):
    type: ClassVar[str] = "mastodon"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "query": Option(str, required=True, help="search terms"),
        "access_token_env": Option(env=True, required=False, default="MASTODON_ACCESS_TOKEN"),
    }

    def fetch(self, ctx: FetchContext) -> FetchResult:
        headers = {}
        if self.secret("access_token_env"):
            headers["Authorization"] = f"Bearer {self.secret('access_token_env')}"
        seen_max = _id(ctx.cursor)
        top, mentions, warnings = seen_max, [], []
        pages, max_id, resp = Pages(self.source.max_pages), None, None
        while pages.next(max_id or "first"):
            params = {"q": self.opt("query"), "type": "statuses", "limit": 40, "resolve": "false"}
            if seen_max >= 0:
                params["min_id"] = str(seen_max)
            if max_id:
                params["max_id"] = max_id
            resp = self.get(f"{self.base_url}/api/v2/search", params=params, headers=headers)
            if isinstance(resp, FetchResult):
                if mentions:
                    warnings.append(f"page {pages.count} failed: {resp.error}")
                    top = seen_max  # keep the old cursor: the next poll fetches the rest
                    break
                return resp
            doc = decode_json(resp)
            if isinstance(doc, FetchResult):
                return doc
            try:
                statuses = dig(doc, "statuses", kind=list)
            except SchemaError as exc:
                return FetchResult("failed", error=str(exc), http_status=resp.status)
            for st in statuses:
                if not isinstance(st, dict):
                    continue
                sid = _id(st.get("id"))
                if sid <= seen_max:
                    continue
                top = max(top, sid)
                content = st.get("content")
                text = html_to_text(content) if isinstance(content, str) else stripped(content)  # else Mention names it
                cw = stripped(st.get("spoiler_text"))
                if not text and not cw:
                    warnings.append(f"status {str(st.get('id'))[:40]} has no text; skipped")
                    continue
                when = parse_time(st.get("created_at"))
                if st.get("created_at") and when is None:
                    warnings.append(f"status {str(st.get('id'))[:40]}: unknown date format "
                                    f"{str(st.get('created_at'))[:40]!r}")
                mentions.append(Mention(
                    source_id=self.source.id, title=cw, text=text, guid=st.get("uri") or st.get("id"),
                    url=st.get("url") or st.get("uri"), author=dig(st, "account", "acct", default=None),
                    published_at=when, lang=st.get("language"),
                ))
            ids = [_id(st.get("id")) for st in statuses if isinstance(st, dict)]
            if len(statuses) < 40 or not ids or min(ids) <= seen_max:
                break
            max_id = str(min(ids))
        if pages.warning:
            warnings.append(pages.warning)
        return self.ok(mentions, str(top) if top >= 0 else ctx.cursor, warnings, resp)
