"""Reddit posts matching a search, through the OAuth API (application-only
"client credentials" grant), newest first.

Platform rules: every request needs a descriptive User-Agent
(``<platform>:<app id>:<version> (by /u/<username>)``; generic ones are throttled or
banned), and OAuth clients get 100 queries per minute (the ``X-Ratelimit-*`` headers
are honoured). Search covers posts (titles and self text), not comments.

Config: ``query`` (required; Reddit search syntax, e.g. ``"林志明" OR "Dr. Lin"``),
``subreddit`` (restrict to one, e.g. "taiwan"), ``reddit_user`` (required, for the
User-Agent), ``client_id_env`` (REDDIT_CLIENT_ID), ``client_secret_env``
(REDDIT_CLIENT_SECRET), ``token_url`` (fixture replay).
"""
from __future__ import annotations

from typing import ClassVar

from connectors._oauth import Token, TokenCache
from connectors.base import (Connector, FetchContext, Option, Pages, SchemaError, cursor_time, decode_json, dig,
                             newest, parse_time, rate_limit_reset, stripped)
from monitor.mention import FetchResult, Mention


class RedditConnector(Connector):
    type: ClassVar[str] = "reddit"
    default_url: ClassVar[str] = "https://oauth.reddit.com"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "query": Option(str, required=True, help="Reddit search query"),
        "subreddit": Option(str, default=None, help="restrict the search to one subreddit"),
        "reddit_user": Option(str, required=True, help="your Reddit username, for the User-Agent Reddit requires"),
        "token_url": Option(str, default="https://www.reddit.com/api/v1/access_token"),
        "client_id_env": Option(env=True, required=True, default="REDDIT_CLIENT_ID"),
        "client_secret_env": Option(env=True, required=True, default="REDDIT_CLIENT_SECRET"),
    }

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        from monitor import __version__

        self.user_agent = f"python:repwatch:{__version__} (by /u/{self.opt('reddit_user')})"
        self._tokens = TokenCache(self, "Reddit client credentials")

    def _access_token(self) -> Token | FetchResult:
        return self._tokens.get(lambda: self.request(
            "POST", self.opt("token_url"), data={"grant_type": "client_credentials"},
            auth=(self.secret("client_id_env"), self.secret("client_secret_env"))))

    def fetch(self, ctx: FetchContext) -> FetchResult:
        token = self._access_token()
        if isinstance(token, FetchResult):
            return token
        sub = self.opt("subreddit")
        url = f"{self.base_url}/r/{sub}/search" if sub else f"{self.base_url}/search"
        since = cursor_time(ctx)
        top, mentions, warnings = since, [], []
        pages, after, resp = Pages(self.source.max_pages), None, None
        while pages.next(after):
            params = {"q": self.opt("query"), "sort": "new", "limit": 100, "type": "link", "raw_json": 1}
            if sub:
                params["restrict_sr"] = 1
            if after:
                params["after"] = after
            resp = self.get(url, params=params, headers={"Authorization": f"Bearer {token.value}"})
            if isinstance(resp, FetchResult):
                if resp.status == "auth_failed":
                    self._tokens.drop()
                if mentions:
                    warnings.append(f"page {pages.count} failed: {resp.error}")
                    top = since  # keep the old cursor: the next poll fetches the rest
                    break
                return resp
            doc = decode_json(resp)
            if isinstance(doc, FetchResult):
                return doc
            try:
                if dig(doc, "kind") != "Listing":
                    raise SchemaError(f"expected a Listing, got kind={dig(doc, 'kind')!r}")
                children = dig(doc, "data", "children", kind=list)
            except SchemaError as exc:
                return FetchResult("failed", error=str(exc), http_status=resp.status)
            old = False
            for child in children:
                d = child.get("data") if isinstance(child, dict) else None
                if not isinstance(d, dict):
                    warnings.append("a listing child has no data; skipped")
                    continue
                when = parse_time(d.get("created_utc"))
                if since and when and when <= since:
                    old = True
                    continue
                top = newest(top, when)
                title, body = stripped(d.get("title")), stripped(d.get("selftext"))
                if not title and not body:
                    warnings.append(f"post {d.get('name', '?')} has no text; skipped")
                    continue
                permalink = d.get("permalink")
                mentions.append(Mention(
                    source_id=self.source.id, title=title, text=body, guid=d.get("name"),
                    url=(f"https://www.reddit.com{permalink}" if isinstance(permalink, str) and permalink
                         else d.get("url")),
                    author=d.get("author"), published_at=when,
                ))
            after = None if old else dig(doc, "data", "after", default=None)
            wait = rate_limit_reset(resp.headers, self.clock.now())
            if wait:
                warnings.append(f"rate budget spent; resumes at {wait.isoformat()}")
                break
        if pages.warning:
            warnings.append(pages.warning)
        return self.ok(mentions, top.isoformat() if top else ctx.cursor, warnings, resp)
