"""Dcard posts: a forum's newest posts, or a site search, through Dcard's web JSON
(``/service/api/v2/...``).

Dcard sits behind Cloudflare: a challenge (403/503 or an HTML page where JSON was
expected) is reported as **blocked**, distinct from an error, and the source backs
off for an hour. There is no public API contract: a changed shape fails with the
field that is missing. Post ids grow over time and are the cursor.

Config: ``forum`` (alias, e.g. "medical") and/or ``query`` (search terms); at least one.
"""
from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from connectors.base import Connector, FetchContext, Option, Pages, decode_json, parse_time
from monitor.mention import FetchResult, Mention


class DcardConnector(Connector):
    type: ClassVar[str] = "dcard"
    default_url: ClassVar[str] = "https://www.dcard.tw"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "forum": Option(str, default=None, help="forum alias, e.g. medical"),
        "query": Option(str, default=None, help="search terms (site-wide search)"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        return [] if options.get("forum") or options.get("query") else [("forum", "set forum or query (or both)")]

    def fetch(self, ctx: FetchContext) -> FetchResult:
        seen = int(ctx.cursor) if ctx.cursor and ctx.cursor.isdigit() else 0
        top, mentions, warnings = seen, [], []
        forum, query = self.opt("forum"), self.opt("query")
        pages, before, offset = Pages(self.source.max_pages), None, 0
        while pages.next(before or offset or "first"):
            if query:
                url = f"{self.base_url}/service/api/v2/search/posts"
                params = {"query": query, "limit": 30, "offset": offset}
                if forum:
                    params["forum"] = forum
            else:
                url = f"{self.base_url}/service/api/v2/forums/{quote(forum)}/posts"
                params = {"limit": 30, "popular": "false"}
                if before:
                    params["before"] = before
            resp = self.get(url, params=params)
            if isinstance(resp, FetchResult):
                if mentions and resp.status == "failed":
                    warnings.append(f"page {pages.count} failed: {resp.error}")
                    top = seen  # keep the old cursor: the next poll fetches the rest
                    break
                return resp
            doc = decode_json(resp)
            if isinstance(doc, FetchResult):
                return doc
            if isinstance(doc, dict) and "error" in doc:
                return FetchResult("failed", error=f"Dcard error: {str(doc.get('message') or doc['error'])[:200]}",
                                   http_status=resp.status)
            if not isinstance(doc, list):
                return FetchResult("failed", error=f"expected a list of posts, got {type(doc).__name__} (format changed?)",
                                   http_status=resp.status)
            old = False
            for p in doc:
                if not isinstance(p, dict) or not isinstance(p.get("id"), int):
                    warnings.append("a post without a numeric id; skipped")
                    continue
                if p["id"] <= seen:
                    old = True
                    continue
                top = max(top, p["id"])
                title, excerpt = (p.get("title") or "").strip(), (p.get("excerpt") or "").strip()
                if not title and not excerpt:
                    warnings.append(f"post {p['id']} has no text; skipped")
                    continue
                when = parse_time(p.get("createdAt"))
                if p.get("createdAt") and when is None:
                    warnings.append(f"post {p['id']}: unknown date format {str(p.get('createdAt'))[:40]!r}")
                alias = p.get("forumAlias") or forum or "f"
                mentions.append(Mention(
                    source_id=self.source.id, title=title, text=excerpt, guid=str(p["id"]),
                    url=f"https://www.dcard.tw/f/{alias}/p/{p['id']}", published_at=when,
                ))
            if old or len(doc) < 30:
                break
            ids = [p["id"] for p in doc if isinstance(p, dict) and isinstance(p.get("id"), int)]
            before, offset = (min(ids) if ids else None), offset + len(doc)
        if pages.warning:
            warnings.append(pages.warning)
        return self.ok(mentions, str(top) if top else ctx.cursor, warnings)
