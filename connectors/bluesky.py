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
from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import FetchFailed, HttpResponse, decode_json
from connectors.payload import dig, stripped
from monitor.mention import FetchResult, Mention


def post_url(uri: str | None, handle: str | None) -> str | None:
    """at://did:plc:x/app.bsky.feed.post/3kabc -> https://bsky.app/profile/handle/post/3kabc"""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    parts = uri[5:].split("/")
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post":
        return None
    return f"https://bsky.app/profile/{handle if isinstance(handle, str) and handle else parts[0]}/post/{parts[2]}"


class BlueskyConnector(HttpConnector):
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

    def _session(self) -> Token:
        return self._tokens.get(lambda: self.request(
            "POST", f"{self.base_url}/xrpc/com.atproto.server.createSession",
            json_body={"identifier": self.opt("identifier"), "password": self.secret("app_password_env")}))

    def send_page(self, req: PageRequest, walk: Walk) -> HttpResponse:
        """One search request; an expired access token opens a new session once."""
        session = self._session()
        try:
            return self.get(req.url, params=req.params, headers={"Authorization": f"Bearer {session.value}"})
        except FetchFailed as exc:
            if "ExpiredToken" not in (exc.result.error or ""):
                raise
        self._tokens.drop()
        return self.get(req.url, params=req.params, headers={"Authorization": f"Bearer {self._session().value}"})

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        params = {"q": self.opt("query"), "sort": "latest", "limit": 100}
        if walk.cursor.since:
            params["since"] = walk.cursor.since.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if self.opt("lang"):
            params["lang"] = self.opt("lang")
        if token:
            params["cursor"] = token
        return PageRequest(f"{self.base_url}/xrpc/app.bsky.feed.searchPosts", params)

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        posts = dig(doc, "posts", kind=list)
        for p in posts:
            if not isinstance(p, dict):
                continue
            record = p.get("record") if isinstance(p.get("record"), dict) else {}
            when = parse_time(record.get("createdAt")) or parse_time(p.get("indexedAt"))
            if walk.cursor.is_old(when):
                continue
            walk.cursor.see(when)
            text = stripped(record.get("text"))
            if not text:
                walk.warnings.append(f"post {str(p.get('uri', '?'))[:80]} has no text; skipped")
                continue
            handle = dig(p, "author", "handle", default=None)
            langs = record.get("langs")
            walk.mentions.append(Mention(
                source_id=self.source.id, title="", text=text, guid=p.get("uri"),
                url=post_url(p.get("uri"), handle), author=handle,
                published_at=when, lang=langs[0] if isinstance(langs, list) and langs else None,
            ))
        return doc.get("cursor") if posts else None

    def classify(self, status, headers, head):
        if status in (400, 401) and b"ExpiredToken" in head:
            return FetchResult("auth_failed", error="ExpiredToken: access token expired", http_status=status)
        if status == 401 and b"AuthenticationRequired" in head:
            return FetchResult("auth_failed", error="AuthenticationRequired: invalid identifier or app password",
                               http_status=status)
        return super().classify(status, headers, head)
