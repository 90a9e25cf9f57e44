"""Posts on X matching a query: API v2 recent search (the last 7 days), newer than the
newest id seen (``since_id``), with the authors' usernames expanded.

Platform limits: recent search needs a paid tier (Basic or higher); with an app bearer
token, 450 requests per 15 minutes on Pro, far fewer on Basic, and a monthly post cap.
``x-rate-limit-remaining`` / ``x-rate-limit-reset`` (epoch) are honoured, and a 429
waits for the reset. Partial errors (``errors`` beside ``data``) become warnings.

Config: ``query`` (required; X query syntax, e.g. ``(林志明 OR "Dr. Lin") -is:retweet``),
``bearer_token_env`` (X_BEARER_TOKEN).
"""
from __future__ import annotations

from typing import ClassVar

from connectors.base import FetchContext, HttpConnector, IdCursor, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import Mention


class XConnector(HttpConnector):
    type: ClassVar[str] = "x"
    default_url: ClassVar[str] = "https://api.x.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "query": Option(str, required=True, help="X search query"),
        "bearer_token_env": Option(env=True, required=True, default="X_BEARER_TOKEN"),
    }

    def start(self, ctx: FetchContext) -> Walk:
        return Walk(ctx, IdCursor(ctx.cursor))  # the newest post id seen (since_id)

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        params = {"query": self.opt("query"), "max_results": 100,
                  "tweet.fields": "created_at,lang,author_id", "expansions": "author_id",
                  "user.fields": "username,name"}
        if walk.cursor.since is not None:
            params["since_id"] = str(walk.cursor.since)
        if token:
            params["next_token"] = token
        return PageRequest(f"{self.base_url}/2/tweets/search/recent", params,
                           {"Authorization": f"Bearer {self.secret('bearer_token_env')}"})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        if not isinstance(doc, dict) or "meta" not in doc or not isinstance(doc.get("data", []), list):
            raise SchemaError("response has no 'meta' (the API's format may have changed)")
        for e in dig(doc, "errors", kind=list, default=[]):
            what = (e.get("title") or e.get("detail") or e) if isinstance(e, dict) else e
            walk.warnings.append(f"partial error: {str(what)[:120]}")
        users = {u["id"]: u for u in dig(doc, "includes", "users", kind=list, default=[])
                 if isinstance(u, dict) and isinstance(u.get("id"), str)}
        for t in doc.get("data", []):
            tid = str(t.get("id", "")) if isinstance(t, dict) else ""
            if not (tid.isascii() and tid.isdigit()):  # "²" is a digit to isdigit, not to int
                continue
            if walk.cursor.is_old(int(tid)):
                continue  # the API honours since_id; this guards a replayed or cached page
            walk.cursor.see(int(tid))
            text = stripped(t.get("text"))
            if not text:
                walk.warnings.append(f"post {tid} has no text; skipped")
                continue
            author_id = t.get("author_id")
            handle = (dig(users, author_id, "username", kind=str, default=None) if isinstance(author_id, str)
                      else None)
            when = parse_time(t.get("created_at"))
            if t.get("created_at") and when is None:
                walk.warnings.append(f"post {tid}: unknown date format {str(t.get('created_at'))[:40]!r}")
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=tid,
                url=f"https://x.com/{handle or 'i/web'}/status/{tid}", author=handle,
                published_at=when, lang=t.get("lang"),
            ))
        return dig(doc, "meta", "next_token", default=None) or None
