"""RSS and Atom feeds: httpx fetches the bytes, feedparser parses them.

Config keys: the common ones (url, every, entities, timeout, max_bytes, enabled).
A 304 is "nothing new"; an HTML page, an empty body or unparseable XML with no
entries is an error naming what arrived; a feed with some broken entries keeps the
good ones and reports the rest as warnings.

Charset: a feed that declares UTF-8 (or nothing) but is not valid UTF-8 is decoded as
Big5 (cp950), then GB18030, as the html connector does (Taiwanese sites still serve
Big5), with a warning naming the charset used; feedparser alone would read it as
windows-1252 and the Chinese names would never match.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import ClassVar

import feedparser
from bs4 import BeautifulSoup

from connectors.base import HttpConnector, PageRequest, Walk
from connectors.http import FetchFailed, HttpResponse
from monitor.clock import UTC
from monitor.mention import FetchResult, Mention

_WS_RE = re.compile(r"\s+")
_BLOCK_TAGS = ["br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"]
_CTRL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_XML_DECL_RE = re.compile(rb"^(\s*<\?xml[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._\-]+)([\"'])", re.I)
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._\-]+)[\"']?", re.I)
_UTF8_NAMES = {"utf-8", "utf8"}
_FALLBACKS = (("cp950", "Big5"), ("gb18030", "GB18030"))  # the order the html connector tries


def _utf8_type(ctype: str) -> str:
    if _CHARSET_RE.search(ctype):
        return _CHARSET_RE.sub("charset=utf-8", ctype)
    return f"{ctype or 'application/xml'}; charset=utf-8"


def repair_charset(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], str | None]:
    """A feed that says it is UTF-8 (or says nothing, so UTF-8) but is not: decoded as Big5,
    then GB18030, and handed on as UTF-8 with its declarations changed to say so. Returns
    the body, the headers and a warning (None when the body was already what it said)."""
    ctype = headers.get("content-type", "")
    m = _CHARSET_RE.search(ctype)
    decl = _XML_DECL_RE.match(body[:512])
    declared = (m.group(1) if m else decl.group(2).decode("ascii") if decl else "").lower()
    if declared and declared not in _UTF8_NAMES:
        return body, headers, None  # another charset, declared: feedparser's to honour
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body, headers, None  # UTF-16 with a byte-order mark
    try:
        body.decode("utf-8")
        return body, headers, None
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    said = f"declared {declared.upper()}" if declared else "declared no charset (UTF-8 assumed)"
    for codec, name in _FALLBACKS:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        fixed = text.encode("utf-8")
        fixed = _XML_DECL_RE.sub(lambda d: d.group(1) + b"utf-8" + d.group(3), fixed, count=1)
        headers = {**headers, "content-type": _utf8_type(ctype)}
        return fixed, headers, f"feed {said} but is not valid UTF-8 (byte {bad_at:,}); decoded as {name}"
    text = body.decode("utf-8", "replace")
    headers = {**headers, "content-type": _utf8_type(ctype)}
    return text.encode("utf-8"), headers, (f"feed {said} but is not valid UTF-8 (byte {bad_at:,}), nor Big5 or "
                                           "GB18030; undecodable bytes replaced, names in it may not match")


_NCR_RE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def join_surrogate_refs(body: bytes) -> bytes:
    """Character references to UTF-16 halves (``&#55357;&#56832;``, as old encoders write an
    emoji) joined into the character they make; an unpaired half becomes U+FFFD.
    feedparser turns each half into a lone surrogate and then fails to encode it."""
    if b"&#" not in body:
        return body
    refs = [(m.start(), m.end(), int(m.group(1), 16) if m.group(1) else int(m.group(2)))
            for m in _NCR_RE.finditer(body)]
    out, last, i = [], 0, 0
    while i < len(refs):
        start, end, code = refs[i]
        if not 0xD800 <= code <= 0xDFFF:
            i += 1
            continue
        out.append(body[last:start])
        pair = refs[i + 1] if i + 1 < len(refs) else None
        if code <= 0xDBFF and pair and pair[0] == end and 0xDC00 <= pair[2] <= 0xDFFF:
            out.append(b"&#x%X;" % (0x10000 + ((code - 0xD800) << 10) + (pair[2] - 0xDC00)))
            last, i = pair[1], i + 2
        else:
            out.append(b"&#xFFFD;")
            last, i = end, i + 1
    out.append(body[last:])
    return b"".join(out)


def html_to_text(value: str | None) -> str:
    """Markup to plain text: tags (Google's <b> highlights included) removed, entities decoded."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        soup = BeautifulSoup(value, "html.parser")
        for tag in soup.find_all(_BLOCK_TAGS):  # blocks break lines; inline tags such as <b> join
            tag.insert_after("\n")
        value = soup.get_text("")
    value = _CTRL_RE.sub("", value)
    return _WS_RE.sub(" ", value).strip()


def _entry_time(entry) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        st = entry.get(key)
        if st:
            return datetime.fromtimestamp(calendar.timegm(st), UTC)
    return None


class RssConnector(HttpConnector):
    type: ClassVar[str] = "rss"
    accept: ClassVar[str] = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
    supports_304: ClassVar[bool] = True

    def page_request(self, token: None, walk: Walk) -> PageRequest:
        return PageRequest(self.source.url)

    def entry_link(self, entry) -> str | None:
        return entry.get("link")

    def entry_guid(self, entry) -> str | None:
        return entry.get("id") or None

    def _parsed(self, resp: HttpResponse, walk: Walk):
        """feedparser's reading of the body (its charset repaired first), or FetchFailed
        naming what arrived instead of a feed."""
        if not resp.body.strip():
            raise FetchFailed(FetchResult("failed", error="empty body where a feed was expected",
                                          http_status=resp.status))
        headers = {k.lower(): v for k, v in resp.headers.items()}
        body, headers, charset_warning = repair_charset(resp.body, headers)
        if charset_warning:
            walk.warnings.append(charset_warning)
        try:
            parsed = feedparser.parse(join_surrogate_refs(body), response_headers=headers)
        except (UnicodeError, ValueError, RecursionError) as exc:  # feedparser's own failures on odd bytes
            raise FetchFailed(FetchResult("failed", error=f"unparseable feed ({type(exc).__name__}: {str(exc)[:120]})",
                                          http_status=resp.status)) from None
        if not parsed.entries and parsed.bozo and not parsed.get("version"):
            ctype = headers.get("content-type", "")
            head = body[:512].lower()
            if "html" in ctype or b"<html" in head or b"<!doctype html" in head:
                what = "an HTML page"
            else:
                what = f"unparseable content ({type(parsed.get('bozo_exception')).__name__})"
            raise FetchFailed(FetchResult("failed", error=f"expected a feed, got {what} (Content-Type: {ctype or 'none'})",
                                          http_status=resp.status))
        return parsed

    def parse_page(self, resp: HttpResponse, walk: Walk) -> None:
        """The feed's entries (a feed is one page: no next token). Every entry is handed on
        (the store drops those it has); the cursor is the newest entry's time."""
        parsed = self._parsed(resp, walk)
        if not parsed.entries:
            return None
        kept = 0
        for i, entry in enumerate(parsed.entries):
            title = html_to_text(entry.get("title"))
            summary = entry.get("summary") or ""
            if entry.get("content"):
                summary = entry["content"][0].get("value") or summary
            text = html_to_text(summary)
            if not title and not text:
                walk.warnings.append(f"entry #{i + 1} has no title and no text; skipped")
                continue
            published = _entry_time(entry)
            walk.cursor.see(published)
            author = entry.get("author") or None
            walk.mentions.append(Mention(
                source_id=self.source.id, title=title, text=text, url=self.entry_link(entry),
                guid=self.entry_guid(entry), author=author.strip() if author and author.strip() else None,
                published_at=published,
            ))
            kept += 1
        if parsed.bozo:
            walk.warnings.append(f"feed is not well-formed ({parsed.get('bozo_exception')}); kept {kept} entries")
        return None
