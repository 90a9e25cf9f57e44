"""PTT (www.ptt.cc web front end): board search results, then each new article's text.

Search: ``/bbs/{board}/search?q=..&page=N`` lists ``div.r-ent`` rows (title, author,
date, link to ``/bbs/{board}/M.{epoch}.A.{hex}.html``); the epoch in the article id is
its posting time, used as the cursor. Adult-gated boards need the ``over18=1``
cookie; a page that still shows the age gate, or a Cloudflare challenge, is
**blocked** (not an error) and the source backs off. PTT publishes no rate limit:
one request per two seconds per daemon by default.

Replies: each 推/噓/→ row under an article (``div.push``) is a Mention of its own,
linked to the article by ``parent_url``: the text is the push's content (a 噓 keeps
the tag, "噓 " + content, so sentiment sees the boo; 推 and → give the content only),
the author the user id, no URL of its own, and the guid ``{article URL}#push-{n}``
(n counts the article's push rows from 1; pushes are append-only, so n is stable). A
push's time is "MM/DD HH:MM" in Asia/Taipei without a year: the year is the article's,
or the next one when the date falls before the article's date, so a push on 01/01
under an article of 31 December is in the new year. Articles are read once, on the
poll that finds them (the cursor moves past them): **replies added to an article
after it was read are not fetched**.

Config: ``board`` (required, e.g. "Doctor-Info" or "Gossiping"), ``query``
(required), ``max_articles`` (articles read per poll, default 20), ``replies``
(default true), ``max_replies`` (pushes kept per article, the first ones, default 200).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote, urljoin
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup

from connectors.base import FetchContext, HttpConnector, IdCursor, Option, PageRequest, Walk
from connectors.http import FetchFailed, HttpResponse
from connectors.payload import SchemaError
from monitor.clock import UTC
from monitor.mention import FetchResult, Mention

_ARTICLE_RE = re.compile(r"/bbs/[^/]+/M\.(\d{9,11})\.A\.[0-9A-F]{3}\.html$")
_PUSH_TIME_RE = re.compile(r"(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?\s*$")
TAIPEI = ZoneInfo("Asia/Taipei")


def _join(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``; None for one that is not a URL ("http://[::1")."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def article_time(href: str) -> datetime | None:
    m = _ARTICLE_RE.search(href or "")
    return datetime.fromtimestamp(int(m.group(1)), UTC) if m else None


@dataclass(frozen=True)
class Push:
    """One 推/噓/→ row of an article page; ``n`` counts the page's push rows from 1."""

    n: int
    tag: str  # 推, 噓 or →
    user: str
    content: str
    when: str  # as printed: "12/01 14:03", or "1.2.3.4 12/01 14:03" on boards that show the IP


def push_time(when: str, posted: datetime) -> datetime | None:
    """A push's "MM/DD HH:MM" (Taipei, no year) as aware UTC. The year is that of the
    article's posting time in Taipei, or the next one when the month and day fall before
    the article's: a push only ever follows its article (the first such date on or after it)."""
    m = _PUSH_TIME_RE.search(when or "")
    if not m:
        return None
    month, day = int(m.group(1)), int(m.group(2))
    hour, minute = (int(m.group(3)), int(m.group(4))) if m.group(3) else (0, 0)
    ref = posted.astimezone(TAIPEI)
    year = ref.year + (1 if (month, day) < (ref.month, ref.day) else 0)
    try:
        return datetime(year, month, day, hour, minute, tzinfo=TAIPEI).astimezone(UTC)
    except ValueError:  # 02/29 in a year without one, 13/40: not a date
        return None


def article_pushes(soup: BeautifulSoup) -> list[Push]:
    """The push rows of an article page, in page order. Rows without a tag (PTT's
    "檔案過大" warning box) are not pushes and are not counted."""
    pushes = []
    for row in soup.select("#main-content div.push"):
        tag = row.select_one(".push-tag")
        if tag is None:
            continue
        user, content, when = (row.select_one(sel) for sel in (".push-userid", ".push-content", ".push-ipdatetime"))
        pushes.append(Push(
            n=len(pushes) + 1, tag=tag.get_text(strip=True), user=user.get_text(strip=True) if user else "",
            content=re.sub(r"^\s*:\s?", "", content.get_text() if content else "").strip(),
            when=when.get_text(" ", strip=True) if when else "",
        ))
    return pushes


def article_text(html: str | BeautifulSoup) -> str:
    """The body of an article page: without the header lines, the signature and the pushes.
    (A parsed page is changed in place: read its pushes first.)"""
    soup = html if isinstance(html, BeautifulSoup) else BeautifulSoup(html, "html.parser")
    main = soup.select_one("#main-content")
    if main is None:
        return ""
    for sel in (".article-metaline", ".article-metaline-right", ".push", "span.f2"):
        for tag in main.select(sel):
            tag.decompose()
    text = main.get_text("\n")
    text = text.split("\n--\n")[0]  # the signature block follows "--"
    return re.sub(r"[ \t\u3000]+", " ", re.sub(r"\n{2,}", "\n", text)).strip()


class PttConnector(HttpConnector):
    type: ClassVar[str] = "ptt"
    default_url: ClassVar[str] = "https://www.ptt.cc"
    accept: ClassVar[str] = "text/html"
    options: ClassVar[dict[str, Option]] = {
        "board": Option(str, required=True, help="board name, e.g. Doctor-Info"),
        "query": Option(str, required=True, help="search terms"),
        "max_articles": Option(int, default=20, help="new articles read per poll"),
        "replies": Option(bool, default=True, help="each 推/噓/→ under a new article is a mention too"),
        "max_replies": Option(int, default=200, help="pushes kept per article (the first ones)"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        return [("max_replies", "must be at least 0")] if options.get("max_replies", 0) < 0 else []

    def start(self, ctx: FetchContext) -> Walk:
        return Walk(ctx, IdCursor(ctx.cursor))  # the posting time (epoch seconds) of the newest article read

    def _page(self, url: str) -> HttpResponse:
        resp = self.get(url, headers={"Cookie": "over18=1"})
        if b"over18-notice" in resp.body or b'action="/ask/over18"' in resp.body:
            raise FetchFailed(self.blocked(resp.status, "PTT age gate shown although over18=1 was sent"))
        return resp

    def page_request(self, token: int | None, walk: Walk) -> PageRequest:
        board, query = quote(self.opt("board")), quote(self.opt("query"))
        return PageRequest(f"{self.base_url}/bbs/{board}/search?page={token or 1}&q={query}")

    def send_page(self, req: PageRequest, walk: Walk) -> HttpResponse:
        return self._page(req.url)

    def ends_stream(self, failure: FetchResult, walk: Walk) -> str | None:
        return "" if failure.http_status == 404 and walk.page > 1 else None  # past the last page of results

    def parse_page(self, resp: HttpResponse, walk: Walk) -> int | None:
        """A page of search results: the new articles go to ``walk.pending`` (read in
        :meth:`complete`); the token is the next page's number."""
        soup = BeautifulSoup(resp.body.decode("utf-8", "replace"), "html.parser")
        if soup.select_one(".r-list-container") is None and soup.select_one(".r-ent") is None:
            raise SchemaError("search page has no .r-list-container (PTT's layout changed?)")
        entries = soup.select(".r-ent")
        old = False
        for ent in entries:
            a = ent.select_one(".title a")
            if a is None:  # (本文已被刪除) deleted posts keep a row without a link
                continue
            when = article_time(a.get("href", ""))
            link = _join(self.base_url + "/", a.get("href", "")) if when else None
            if link is None:
                walk.warnings.append(f"unrecognised article link {a.get('href', '')[:60]!r}; skipped")
                continue
            if walk.cursor.is_old(int(when.timestamp())):
                old = True
                continue
            author = ent.select_one(".meta .author")
            walk.pending.append((a.get_text(strip=True), link, author.get_text(strip=True) if author else None, when))
        return None if old or not entries else (walk.token or 1) + 1

    def complete(self, walk: Walk) -> None:
        """Each new article's text and replies, oldest first (so a cut-off keeps the cursor honest)."""
        rows = sorted(walk.pending, key=lambda r: r[3])
        limit = self.opt("max_articles")
        if len(rows) > limit:
            walk.warnings.append(f"{len(rows)} new articles; read the oldest {limit}, the rest next poll")
            rows = rows[:limit]
        cut: list[str] = []
        for title, link, author, when in rows:
            replies: list[Mention] = []
            try:
                soup = BeautifulSoup(self._page(link).body.decode("utf-8", "replace"), "html.parser")
            except FetchFailed as exc:
                if exc.result.status in ("blocked", "rate_limited") and not walk.mentions:
                    raise
                walk.warnings.append(f"article {link.rsplit('/', 1)[-1]}: {exc.result.error}; kept the title only")
                text = ""
            else:
                if self.opt("replies"):
                    replies = self._replies(article_pushes(soup), link, when, cut)
                text = article_text(soup)
            walk.cursor.see(int(when.timestamp()))
            # the replies come before their article, so the result still ends with the newest article
            walk.mentions.extend(replies)
            walk.mentions.append(Mention(source_id=self.source.id, title=title, text=text, url=link,
                                         author=author, published_at=when))
        if cut:
            walk.warnings.append(f"{len(cut)} article(s) have more than {self.opt('max_replies')} pushes "
                                 f"({', '.join(cut[:3])}{', ...' if len(cut) > 3 else ''}); kept the first "
                                 f"{self.opt('max_replies')} of each (max_replies)")

    def _replies(self, pushes: list[Push], link: str, posted: datetime, cut: list[str]) -> list[Mention]:
        """The article's pushes as Mentions linked to it; ``cut`` collects the articles
        that had more than ``max_replies``."""
        limit = self.opt("max_replies")
        if len(pushes) > limit:
            cut.append(link.rsplit("/", 1)[-1])
            pushes = pushes[:limit]
        return [Mention(source_id=self.source.id, title="", text=f"噓 {p.content}" if p.tag == "噓" else p.content,
                        url=None, guid=f"{link}#push-{p.n}", author=p.user or None,
                        published_at=push_time(p.when, posted), parent_url=link)
                for p in pushes if p.content]
