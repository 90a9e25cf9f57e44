"""Bluesky posts matching a search: ``app.bsky.feed.searchPosts`` (sort=latest, with
``since`` and a cursor), authenticated with an app password.

The session (``com.atproto.server.createSession``) is created at the configured PDS
(default https://bsky.social), which proxies the search to the AppView. An expired
access token (HTTP 400/401 ``ExpiredToken``) opens a new session once. Rate limits
come back as ``ratelimit-*`` headers (reset in epoch seconds) and are honoured.

Config: ``query`` (required; Lucene-like, e.g. ``林志明 OR "Dr Lin"``), ``lang``
(e.g. "zh"), ``identifier`` (the account's handle, required),
``app_password_env`` (BLUESKY_APP_PASSWORD).
"""
from __future__ import annotations

from typing import ClassVar

from connectors._oauth import Token, TokenCache
from connectors.base import (Connector, FetchContext, Option, Pages, SchemaError, cursor_time, decode_json, dig,
                             newest, parse_time, stripped)
from monitor.mention import FetchResult, Mention


def post_url(uri: str | None, handle: str | None) -> str | None:
    """at://did:plc:x/app.bsky.feed.post/3kabc -> https://bsky.app/profile/handle/post/3kabc"""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    return f"https://bsky.app/profile/{handle if isinstance(handle, str) and handle else parts[0]}/post/{parts[2]}"


class BlueskyConnector(Connector):
    type: ClassVar[str] = "bluesky"
    default_url: ClassVar[str] = "https://bsky.social"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "query": Option(str, required=True, help="search query"),
        "lang": Option(str, default=None, help="only posts in this language, e.g. zh"),
        "identifier": Option(str, required=True, help="the handle the app password belongs to"),
        "app_password_env": Option(env=True, required=True, default="BLUESKY_APP_PASSWORD"),
    }

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._tokens = TokenCache(self, "Bluesky createSession", field="accessJwt")

    def _session(self) -> Token | FetchResult:
        return self._tokens.get(lambda: self.request(
            "POST", f"{self.base_url}/xrpc/com.atproto.server.createSession",
            json_body={"identifier": self.opt("identifier"), "password": self.secret("app_password_env")}))

    def _search(self, params: dict):
        """One search request; an expired access token opens a new session once."""
        for attempt in (1, 2):
            token = self._session()
            if isinstance(token, FetchResult):
                return token
            resp = self.get(f"{self.base_url}/xrpc/app.bsky.feed.searchPosts", params=params,
                            headers={"Authorization": f"Bearer {token.value}"})
            if isinstance(resp, FetchResult) and "ExpiredToken" in (resp.error or "") and attempt == 1:
                self._tokens.drop()
                continue
            return resp

    def fetch(self, ctx: FetchContext) -> FetchResult:
        since = cursor_time(ctx)
        top, mentions, warnings = since, [], []
        pages, cursor, resp = Pages(self.source.max_pages), None, None
        while pages.next(cursor):
            params = {"q": self.opt("query"), "sort": "latest", "limit": 100}
            if since:
                params["since"] = since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            if self.opt("lang"):
                params["lang"] = self.opt("lang")
            if cursor:
                params["cursor"] = cursor
            resp = self._search(params)
            if isinstance(resp, FetchResult):
                if mentions:
                    warnings.append(f"page {pages.count} failed: {resp.error}")
                    top = since  # keep the old cursor: the next poll fetches the rest
                    break
                return resp
            doc = decode_json(resp)
            if isinstance(doc, FetchResult):
                return doc
            try:
                posts = dig(doc, "posts", kind=list)
            except SchemaError as exc:
                return FetchResult("failed", error=str(exc), http_status=resp.status)
            for p in posts:
                if not isinstance(p, dict):
                    continue
                record = p.get("record") if isinstance(p.get("record"), dict) else {}
                when = parse_time(record.get("createdAt")) or parse_time(p.get("indexedAt"))
                if since and when and when <= since:
                    continue
                top = newest(top, when)
                text = stripped(record.get("text"))
                if not text:
                    warnings.append(f"post {str(p.get('uri', '?'))[:80]} has no text; skipped")
                    continue
                handle = dig(p, "author", "handle", default=None)
                langs = record.get("langs")
                mentions.append(Mention(
                    source_id=self.source.id, title="", text=text, guid=p.get("uri"),
                    url=post_url(p.get("uri"), handle), author=handle,
                    published_at=when, lang=langs[0] if isinstance(langs, list) and langs else None,
                ))
            cursor = doc.get("cursor")
            if not posts:
                break
        if pages.warning:
            warnings.append(pages.warning)
        return self.ok(mentions, top.isoformat() if top else ctx.cursor, warnings, resp)

    def classify(self, status, headers, head):
        if status in (400, 401) and b"ExpiredToken" in head:
            return FetchResult("auth_failed", error="ExpiredToken: access token expired", http_status=status)
        if status == 401 and b"AuthenticationRequired" in head:
            return FetchResult("auth_failed", error="AuthenticationRequired: invalid identifier or app password",
                               http_status=status)
        return super().classify(status, headers, head)
