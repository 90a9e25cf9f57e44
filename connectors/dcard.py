"""Dcard posts: a forum's newest posts, or a site search, through Dcard's web JSON
(``/service/api/v2/...``).

Dcard sits behind Cloudflare: a challenge (403/503 or an HTML page where JSON was
expected) is reported as **blocked**, distinct from an error, and the source backs
off for an hour. There is no public API contract: a changed shape fails with the
field that is missing. Post ids grow over time and are the cursor.

Comments: for each new post (one with text; none is asked for when ``commentCount``
is 0) ``/service/api/v2/posts/{id}/comments?limit=100`` gives its comments (past 100,
the next page with ``after={last floor}``), each a
Mention of its own linked to the post by ``parent_url``: guid ``{post id}-c{floor}``,
URL ``https://www.dcard.tw/f/{alias}/p/{post id}/b/{floor}``, the time from
``createdAt``. Hidden and deleted comments (``hidden``, or no content) are skipped
silently. A failed comments request is a warning and the post is kept; a blocked
(Cloudflare) or rate-limited one is a warning and no more comments are asked for in
that poll. Each comments request counts against Dcard's rate limit (one request per
two seconds by default), so a page of 30 new posts costs up to a minute more. Posts
are read once, on the poll that finds them (post ids are the cursor): **comments
added to a post after it was read are not fetched**.

Config: ``forum`` (alias, e.g. "medical") and/or ``query`` (search terms); at least
one. ``comments`` (default true), ``max_comments`` (comments read per post, the first
floors, default 100).
"""
from __future__ import annotations

from typing import ClassVar
from urllib.parse import quote

from dataclasses import dataclass, field

from connectors.base import FetchContext, HttpConnector, IdCursor, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import FetchFailed, HttpResponse, decode_json
from connectors.payload import SchemaError, stripped
from monitor.mention import Mention




@dataclass
class _DcardWalk(Walk):
    comments: bool = True  # False once Dcard blocks or rate-limits a comments request
    cut: list[str] = field(default_factory=list)  # posts with more comments than max_comments


class DcardConnector(HttpConnector):
    type: ClassVar[str] = "dcard"
    default_url: ClassVar[str] = "https://www.dcard.tw"
    accept: ClassVar[str] = "application/json"
    options: ClassVar[dict[str, Option]] = {
        "forum": Option(str, default=None, help="forum alias, e.g. medical"),
        "query": Option(str, default=None, help="search terms (site-wide search)"),
        "comments": Option(bool, default=True, help="each new post's comments are mentions too"),
        "max_comments": Option(int, default=100, help="comments read per post (the first floors)"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        problems = [] if options.get("forum") or options.get("query") else [("forum", "set forum or query (or both)")]
        if options.get("max_comments", 0) < 0:
            problems.append(("max_comments", "must be at least 0"))
        return problems

    def start(self, ctx: FetchContext) -> _DcardWalk:
        # post ids grow over time: the greatest one seen is the cursor
        return _DcardWalk(ctx, IdCursor(ctx.cursor, floor=0),
                          comments=bool(self.opt("comments") and self.opt("max_comments") > 0))

    def page_request(self, token: int | None, walk: Walk) -> PageRequest:
        """A search pages by ``offset`` (the token), a forum by ``before`` (the token: the
        smallest post id seen)."""
        forum, query = self.opt("forum"), self.opt("query")
        if query:
            params = {"query": query, "limit": 30, "offset": token or 0}
            if forum:
                params["forum"] = forum
            return PageRequest(f"{self.base_url}/service/api/v2/search/posts", params)
        params = {"limit": 30, "popular": "false"}
        if token:
            params["before"] = token
        return PageRequest(f"{self.base_url}/service/api/v2/forums/{quote(forum)}/posts", params)

    def parse_page(self, resp: HttpResponse, walk: _DcardWalk) -> int | None:
        doc = decode_json(resp)
        if isinstance(doc, dict) and "error" in doc:
            raise SchemaError(f"Dcard error: {str(doc.get('message') or doc['error'])[:200]}")
        if not isinstance(doc, list):
            raise SchemaError(f"expected a list of posts, got {type(doc).__name__} (format changed?)")
        old = False
        for p in doc:
            if not isinstance(p, dict) or not isinstance(p.get("id"), int) or isinstance(p["id"], bool):
                walk.warnings.append("a post without a numeric id; skipped")
                continue
            if walk.cursor.is_old(p["id"]):
                old = True
                continue
            walk.cursor.see(p["id"])
            self._post(p, walk)
        if old or len(doc) < 30:
            return None
        if self.opt("query"):
            return (walk.token or 0) + len(doc)
        ids = [p["id"] for p in doc if isinstance(p, dict) and type(p.get("id")) is int]
        return min(ids) if ids else None

    def _post(self, p: dict, walk: _DcardWalk) -> None:
        """A new post as a Mention, then (when asked for) its comments."""
        title, excerpt = stripped(p.get("title")), stripped(p.get("excerpt"))
        if not title and not excerpt:
            walk.warnings.append(f"post {p['id']} has no text; skipped")
            return
        when = parse_time(p.get("createdAt"))
        if p.get("createdAt") and when is None:
            walk.warnings.append(f"post {p['id']}: unknown date format {str(p.get('createdAt'))[:40]!r}")
        alias = p.get("forumAlias") if isinstance(p.get("forumAlias"), str) else None
        alias = quote(alias or self.opt("forum") or "f", safe="")
        post_url = f"https://www.dcard.tw/f/{alias}/p/{p['id']}"
        walk.mentions.append(Mention(
            source_id=self.source.id, title=title, text=excerpt, guid=str(p["id"]),
            url=post_url, published_at=when,
        ))
        if walk.comments and p.get("commentCount") != 0:
            got, walk.comments = self._comments(p["id"], post_url, p.get("commentCount"), walk)
            walk.mentions.extend(got)

    def complete(self, walk: _DcardWalk) -> None:
        if walk.cut:
            limit, cut = self.opt("max_comments"), walk.cut
            walk.warnings.append(f"{len(cut)} post(s) have more than {limit} comments ({', '.join(cut[:3])}"
                                 f"{', ...' if len(cut) > 3 else ''}); read the first {limit} of each (max_comments)")

    def _comments(self, post_id: int, post_url: str, total: object, walk: _DcardWalk) -> tuple[list[Mention], bool]:
        """A post's visible comments as Mentions linked to it, and whether to go on asking
        for comments in this poll (False after a blocked or rate-limited answer). Failures
        are warnings: the post itself is kept whatever happens here."""
        limit, out, read, after = self.opt("max_comments"), [], 0, None
        url = f"{self.base_url}/service/api/v2/posts/{post_id}/comments"
        while read < limit:
            asked = min(100, limit - read)
            try:
                doc = decode_json(self.get(url, params={"limit": asked} if after is None else
                                           {"limit": asked, "after": after}))
            except FetchFailed as exc:
                if exc.result.status in ("blocked", "rate_limited"):
                    walk.warnings.append(f"post {post_id}: comments {exc.result.status} ({exc.result.error}); "
                                         "no more comments read this poll")
                    return out, False
                walk.warnings.append(f"post {post_id}: comments not read: {exc.result.error}")
                break
            if not isinstance(doc, list):
                why = doc.get("message") or doc.get("error") if isinstance(doc, dict) else None
                walk.warnings.append(f"post {post_id}: expected a list of comments, got {type(doc).__name__}"
                                     f"{f' ({str(why)[:100]})' if why else ''} (format changed?)")
                break
            floors = self._comment_page(doc[: limit - read], post_id, post_url, out, walk.warnings)
            read += min(len(doc), limit - read)
            if len(doc) < asked or not floors or (after is not None and max(floors) <= after):
                break  # the last page (or one that does not move on)
            if read >= limit:
                if not isinstance(total, int) or total > limit:
                    walk.cut.append(str(post_id))
                break
            after = max(floors)
        return out, True

    def _comment_page(self, comments: list, post_id: int, post_url: str, out: list[Mention],
                      warnings: list[str]) -> list[int]:
        """One page of comments appended to ``out``; returns the floor numbers it held."""
        floors = []
        for c in comments:
            floor = c.get("floor") if isinstance(c, dict) else None
            if not isinstance(floor, int) or isinstance(floor, bool):
                warnings.append(f"post {post_id}: a comment without a floor number; skipped")
                continue
            floors.append(floor)
            content = c.get("content")
            if c.get("hidden") or not isinstance(content, str) or not content.strip():
                continue  # hidden by Dcard or deleted by its author: nothing to read
            when = parse_time(c.get("createdAt"))
            if c.get("createdAt") and when is None:
                warnings.append(f"post {post_id} comment {floor}: unknown date format "
                                f"{str(c.get('createdAt'))[:40]!r}")
            out.append(Mention(
                source_id=self.source.id, title="", text=content.strip(), guid=f"{post_id}-c{floor}",
                url=f"{post_url}/b/{floor}", published_at=when, parent_url=post_url,
            ))
        return floors
