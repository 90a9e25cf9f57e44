"""PTT (www.ptt.cc web front end): board search results, then each new article's text.

Search: ``/bbs/{board}/search?q=..&page=N`` lists ``div.r-ent`` rows (title, author,
date, link to ``/bbs/{board}/M.{epoch}.A.{hex}.html``); the epoch in the article id is
its posting time, used as the cursor. Adult-gated boards need the ``over18=1``
cookie; a page that still shows the age gate, or a Cloudflare challenge, is
**blocked** (not an error) and the source backs off. PTT publishes no rate limit:
one request per two seconds per daemon by default.

Config: ``board`` (required, e.g. "Doctor-Info" or "Gossiping"), ``query``
(required), ``max_articles`` (articles read per poll, default 20).
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote, urljoin

from bs4 import BeautifulSoup

from connectors.base import Connector, FetchContext, HttpResponse, Option, Pages
from monitor.clock import UTC
from monitor.mention import FetchResult, Mention

_ARTICLE_RE = re.compile(r"/bbs/[^/]+/M\.(\d{9,11})\.A\.[0-9A-F]{3}\.html$")


def article_time(href: str) -> datetime | None:
    m = _ARTICLE_RE.search(href or "")
    return datetime.fromtimestamp(int(m.group(1)), UTC) if m else None


def article_text(html: str) -> str:
    """The body of an article page: without the header lines, the signature and the pushes."""
    soup = BeautifulSoup(html, "html.parser")
    main = soup.select_one("#main-content")
    if main is None:
        return ""
    for sel in (".article-metaline", ".article-metaline-right", ".push", "span.f2"):
        for tag in main.select(sel):
            tag.decompose()
    text = main.get_text("\n")
    text = text.split("\n--\n")[0]  # the signature block follows "--"
    return re.sub(r"[ \t\u3000]+", " ", re.sub(r"\n{2,}", "\n", text)).strip()


class PttConnector(Connector):
    type: ClassVar[str] = "ptt"
    default_url: ClassVar[str] = "https://www.ptt.cc"
    accept: ClassVar[str] = "text/html"
    options: ClassVar[dict[str, Option]] = {
        "board": Option(str, required=True, help="board name, e.g. Doctor-Info"),
        "query": Option(str, required=True, help="search terms"),
        "max_articles": Option(int, default=20, help="new articles read per poll"),
    }

    def _page(self, url: str) -> HttpResponse | FetchResult:
        resp = self.get(url, headers={"Cookie": "over18=1"})
        if isinstance(resp, FetchResult):
            return resp
        if b"over18-notice" in resp.body or b'action="/ask/over18"' in resp.body:
            return self.blocked(resp.status, "PTT age gate shown although over18=1 was sent")
        return resp

    def fetch(self, ctx: FetchContext) -> FetchResult:
        board = self.opt("board")
        since = int(ctx.cursor) if ctx.cursor and ctx.cursor.isdigit() else None
        rows, warnings = [], []
        pages, page = Pages(self.source.max_pages), 1
        while pages.next(page):
            url = f"{self.base_url}/bbs/{quote(board)}/search?page={page}&q={quote(self.opt('query'))}"
            resp = self._page(url)
            if isinstance(resp, FetchResult):
                if resp.http_status == 404 and page > 1:
                    break  # past the last page of results
                if rows and resp.status == "failed":
                    warnings.append(f"search page {page} failed: {resp.error}")
                    break
                return resp
            soup = BeautifulSoup(resp.body.decode("utf-8", "replace"), "html.parser")
            if soup.select_one(".r-list-container") is None and soup.select_one(".r-ent") is None:
                return FetchResult("failed", error="search page has no .r-list-container (PTT's layout changed?)",
                                   http_status=resp.status)
            entries = soup.select(".r-ent")
            old = False
            for ent in entries:
                a = ent.select_one(".title a")
                if a is None:  # (本文已被刪除) deleted posts keep a row without a link
                    continue
                when = article_time(a.get("href", ""))
                if when is None:
                    warnings.append(f"unrecognised article link {a.get('href', '')[:60]!r}; skipped")
                    continue
                if since and when.timestamp() <= since:
                    old = True
                    continue
                author = ent.select_one(".meta .author")
                rows.append((a.get_text(strip=True), urljoin(self.base_url + "/", a["href"]),
                             author.get_text(strip=True) if author else None, when))
            if old or not entries:
                break
            page += 1
        if pages.warning:
            warnings.append(pages.warning)
        rows.sort(key=lambda r: r[3])  # oldest first, so a cut-off keeps the cursor honest
        limit = self.opt("max_articles")
        if len(rows) > limit:
            warnings.append(f"{len(rows)} new articles; read the oldest {limit}, the rest next poll")
            rows = rows[:limit]
        mentions, top = [], since
        for title, link, author, when in rows:
            resp = self._page(link)
            if isinstance(resp, FetchResult):
                if resp.status in ("blocked", "rate_limited") and not mentions:
                    return resp
                warnings.append(f"article {link.rsplit('/', 1)[-1]}: {resp.error}; kept the title only")
                text = ""
            else:
                text = article_text(resp.body.decode("utf-8", "replace"))
            top = max(top or 0, int(when.timestamp()))
            mentions.append(Mention(source_id=self.source.id, title=title, text=text, url=link,
                                    author=author, published_at=when))
        return self.ok(mentions, str(top) if top else ctx.cursor, warnings)
