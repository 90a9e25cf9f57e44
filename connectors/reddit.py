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
from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import HttpResponse, decode_json, rate_limit_reset
from connectors.payload import SchemaError, dig, stripped
from monitor.mention import Mention


class RedditConnector(HttpConnector):
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

    def _access_token(self) -> Token:
        return self._tokens.get(lambda: self.request(
            "POST", self.opt("token_url"), data={"grant_type": "client_credentials"},
            auth=(self.secret("client_id_env"), self.secret("client_secret_env"))))

    def forget_credentials(self) -> None:
        self._tokens.drop()

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        access = self._access_token()
        sub = self.opt("subreddit")
        params = {"q": self.opt("query"), "sort": "new", "limit": 100, "type": "link", "raw_json": 1}
        if sub:
            params["restrict_sr"] = 1
        if token:
            params["after"] = token
        return PageRequest(f"{self.base_url}/r/{sub}/search" if sub else f"{self.base_url}/search", params,
                           {"Authorization": f"Bearer {access.value}"})

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        doc = decode_json(resp)
        if dig(doc, "kind") != "Listing":
            raise SchemaError(f"expected a Listing, got kind={dig(doc, 'kind')!r}")
        old = False
        for child in dig(doc, "data", "children", kind=list):
            d = child.get("data") if isinstance(child, dict) else None
            if not isinstance(d, dict):
                walk.warnings.append("a listing child has no data; skipped")
                continue
            when = parse_time(d.get("created_utc"))
            if walk.cursor.is_old(when):
                old = True
                continue
            walk.cursor.see(when)
            title, body = stripped(d.get("title")), stripped(d.get("selftext"))
            if not title and not body:
                walk.warnings.append(f"post {d.get('name', '?')} has no text; skipped")
                continue
            permalink = d.get("permalink")
            walk.mentions.append(Mention(
                source_id=self.source.id, title=title, text=body, guid=d.get("name"),
                url=(f"https://www.reddit.com{permalink}" if isinstance(permalink, str) and permalink
                     else d.get("url")),
                author=d.get("author"), published_at=when,
            ))
        wait = rate_limit_reset(resp.headers, self.clock.now())
        if wait:
            walk.warnings.append(f"rate budget spent; resumes at {wait.isoformat()}")
            return None
        return None if old else dig(doc, "data", "after", default=None)
