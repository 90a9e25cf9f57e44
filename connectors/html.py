"""Any review page, read with CSS selectors from the config.

Selectors: ``item`` (one per review, required), inside it ``text`` (required),
``title``, ``author``, ``date``, ``rating``, ``link``; ``next`` (the "next page"
link, on the page). Charset: the HTTP header, then the page's ``<meta>``, then a
strict UTF-8 try, then Big5 (cp950) and GB18030, so Taiwanese Big5 pages decode.
robots.txt (RFC 9309) is fetched once a day and respected unless ``respect_robots =
false``: a disallowed page is an error, never fetched. Dates: ISO 8601, RFC 2822,
``date_format`` (strftime), or common forms such as 2026/11/20 and 2026年11月20日;
dates without a zone are in ``timezone`` (default Asia/Taipei); relative ones (3 小時前,
昨天 14:03, 上週三, "2 days ago") count back from the daemon's clock (connectors/dates.py).
Ratings: a number in the element's text or its ``content``/``data-rating``/``aria-label``,
or a count of ★.
"""
from __future__ import annotations

import re
import urllib.robotparser
from datetime import datetime, timedelta
from typing import ClassVar
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from bs4 import BeautifulSoup
from bs4.dammit import UnicodeDammit

from connectors.base import HttpConnector, Option, PageRequest, Walk
from connectors.dates import parse_time
from connectors.http import FetchFailed, HttpResponse, resp_charset
from monitor.clock import UTC
from monitor.mention import FetchResult, Mention

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
                 "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%d %b %Y", "%b %d, %Y", "%B %d, %Y")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")
_ALIASES = {"big5": "cp950", "big5-hkscs": "big5hkscs", "gb2312": "gb18030", "gbk": "gb18030"}


def decode_html(body: bytes, declared: str | None = None) -> tuple[str, str]:
    """Bytes to text and the encoding used (header, then <meta>, then UTF-8, Big5, GB18030)."""
    known = [_ALIASES.get(declared.lower(), declared)] if declared else []
    dammit = UnicodeDammit(body, known_definite_encodings=known, user_encodings=["utf-8", "cp950", "gb18030"],
                           is_html=True)
    enc = (dammit.original_encoding or "utf-8").lower()
    if enc in _ALIASES:  # Big5 pages use cp950 extensions; decode with the superset
        return body.decode(_ALIASES[enc], "replace"), _ALIASES[enc]
    return dammit.unicode_markup or body.decode("utf-8", "replace"), enc


def parse_date(text: str | None, fmt: str | None, zone: str, now: datetime | None = None) -> datetime | None:
    """An absolute date (zone-less ones in ``zone``); then, given ``now``, a relative one
    such as "3 小時前" or "上週三" counted back from ``now`` (see connectors/dates.py)."""
    if not text:
        return None
    text = " ".join(text.split())
    parsed = parse_time(text)
    if parsed:
        return parsed
    for f in ((fmt,) if fmt else ()) + _DATE_FORMATS:
        try:
            naive = datetime.strptime(text, f)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    if now is not None:
        return parse_time(text, now=now, tz=zone)
    return None


def _join(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``; None for one that is not a URL ("http://[::1")."""
    try:
        return urljoin(base, href)
    except ValueError:
        return None


def parse_rating(el) -> float | None:
    if el is None:
        return None
    for attr in ("content", "data-rating", "data-score", "aria-label", "title"):
        value = el.get(attr)
        if value and (m := _NUMBER.search(value)):
            return float(m.group(1))
    text = el.get_text(" ", strip=True)
    if "★" in text:
        return float(text.count("★"))
    m = _NUMBER.search(text)
    return float(m.group(1)) if m else None


class HtmlConnector(HttpConnector):
    type: ClassVar[str] = "html"
    accept: ClassVar[str] = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
    supports_304: ClassVar[bool] = True
    options: ClassVar[dict[str, Option]] = {
        "item": Option(str, required=True, help="CSS selector of one review"),
        "text": Option(str, required=True, help="selector of the review text, inside an item"),
        "title": Option(str, help="selector of the title, inside an item"),
        "author": Option(str, help="selector of the author name (kept in the store, never in pages)"),
        "date": Option(str, help="selector of the date (text, or a datetime/content attribute)"),
        "date_format": Option(str, help="strftime format when the date is in none of the common forms"),
        "timezone": Option(str, default="Asia/Taipei", help="zone of dates written without one"),
        "rating": Option(str, help="selector of the star rating"),
        "link": Option(str, help="selector of an <a> pointing at the review itself"),
        "next": Option(str, help="selector of the next-page link, on the page"),
        "encoding": Option(str, help="force a charset (e.g. big5) when a page lies about its own"),
        "respect_robots": Option(bool, default=True, help="obey robots.txt (RFC 9309)"),
    }

    @classmethod
    def check(cls, options: dict) -> list[tuple[str, str]]:
        problems = []
        import soupsieve

        for key in ("item", "text", "title", "author", "date", "rating", "link", "next"):
            if options.get(key):
                try:
                    soupsieve.compile(options[key])
                except Exception as exc:  # soupsieve.SelectorSyntaxError
                    problems.append((key, f"invalid CSS selector {options[key]!r}: {str(exc).splitlines()[0]}"))
        try:
            ZoneInfo(options.get("timezone") or "Asia/Taipei")
        except Exception:
            problems.append(("timezone", f"unknown time zone {options.get('timezone')!r}"))
        if options.get("encoding"):
            import codecs

            try:
                codecs.lookup(options["encoding"])
            except LookupError:
                problems.append(("encoding", f"unknown encoding {options['encoding']!r}"))
        return problems

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._robots: dict[str, tuple[urllib.robotparser.RobotFileParser | None, datetime]] = {}

    # robots.txt, RFC 9309: 4xx means no rules; 5xx or unreachable means "disallow all" for now
    def allowed(self, url: str) -> tuple[bool, str | None]:
        if not self.opt("respect_robots"):
            return True, None
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        now = self.clock.now()
        cached = self._robots.get(origin)
        if cached is None or cached[1] < now:
            try:
                resp = self.get(f"{origin}/robots.txt")
                parser = urllib.robotparser.RobotFileParser()
                parser.parse(resp.body.decode("utf-8", "replace").splitlines())
                cached = (parser, now + timedelta(hours=24))
            except FetchFailed as exc:
                failure = exc.result
                if not (failure.http_status and 400 <= failure.http_status < 500 and failure.status != "rate_limited"):
                    return False, f"robots.txt unreachable ({failure.error}); not fetching until it answers"
                cached = (None, now + timedelta(hours=24))
            self._robots[origin] = cached
        parser = cached[0]
        if parser is None or parser.can_fetch("repwatch", url):
            return True, None
        return False, f"robots.txt disallows {parts.path or '/'} for repwatch (set respect_robots = false to override)"

    def page_request(self, token: str | None, walk: Walk) -> PageRequest:
        return PageRequest(token or self.source.url)  # the token: the next page's URL

    def send_page(self, req: PageRequest, walk: Walk) -> HttpResponse:
        ok, why = self.allowed(req.url)
        if not ok:
            raise FetchFailed(FetchResult("failed", error=why))
        return super().send_page(req, walk)

    def parse_page(self, resp: HttpResponse, walk: Walk) -> str | None:
        text, _enc = decode_html(resp.body, self.opt("encoding") or resp_charset(resp))
        soup = BeautifulSoup(text, "html.parser")
        items = soup.select(self.opt("item"))
        if not items:
            if walk.page == 1:
                walk.warnings.append(f"no element matches item selector {self.opt('item')!r}: "
                                     "an empty page, or the site's layout changed")
            return None
        old = self._items(items, resp.url, walk)
        nxt = soup.select_one(self.opt("next")) if self.opt("next") else None
        href = nxt.get("href") if nxt is not None and not old else None
        url = _join(resp.url, href) if href else None
        if href and url is None:
            walk.warnings.append(f"next-page link {href[:60]!r} is not a URL; older pages not fetched")
        return url

    def complete(self, walk: Walk) -> None:
        if walk.mentions and not any(m.published_at for m in walk.mentions):
            walk.warnings.append("no item had a readable date; the cursor cannot advance (dedup still applies)")

    def _items(self, items, page_url: str, walk: Walk) -> bool:
        """Append the page's reviews; return True when one older than the cursor was seen."""
        sel = self.opt
        zone, fmt = sel("timezone"), sel("date_format")
        old = False
        for i, item in enumerate(items, 1):
            text_el = item.select_one(sel("text"))
            text = text_el.get_text(" ", strip=True) if text_el else ""
            title_el = item.select_one(sel("title")) if sel("title") else None
            title = title_el.get_text(" ", strip=True) if title_el else ""
            rating = parse_rating(item.select_one(sel("rating"))) if sel("rating") else None
            if not text and not title and rating is None:  # a star rating without words is kept
                walk.warnings.append(f"item #{i} has no text (selector {sel('text')!r}); skipped")
                continue
            when = None
            if sel("date"):
                d = item.select_one(sel("date"))
                raw = (d.get("datetime") or d.get("content") or d.get_text(" ", strip=True)) if d else None
                when = parse_date(raw, fmt, zone, now=self.clock.now())
                if raw and when is None:
                    walk.warnings.append(f"item #{i}: unknown date format {raw[:40]!r}")
            if walk.cursor.is_old(when):
                old = True
                continue
            walk.cursor.see(when)
            link = None
            if sel("link"):
                a = item.select_one(sel("link"))
                if a is not None and a.get("href"):
                    link = _join(page_url, a["href"])
            author_el = item.select_one(sel("author")) if sel("author") else None
            walk.mentions.append(Mention(
                source_id=self.source.id, title=title, text=text, url=link,
                author=author_el.get_text(strip=True) if author_el else None, published_at=when,
                rating=rating,
            ))
        return old
