"""A message is built once as a small document (headings, paragraphs, numbered items
with links) and written out per channel: plain text (LINE, JSON and anything else;
capped below LINE's 5,000 characters by dropping items, never the deadline or the ack
line), CommonMark for Slack (apprise turns it into Slack mrkdwn), and a whole HTML document
for e-mail (doctype, ``<html lang>``, a head with its charset and title, a body). apprise
writes the e-mail's plain-text part from that HTML and keeps only what is shown, so the ack
link is written with its URL as its text: the text part shows it too. :func:`channel_of`
picks the format from the apprise URL."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.units import format_duration

TEXT_LIMIT = 4900  # LINE takes 5,000 characters in one text message


def channel_of(url: str) -> str:
    """``slack`` (markdown), ``email`` (HTML + text), ``line`` or ``text``, from an apprise URL."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "slack" or url.lower().startswith("https://hooks.slack.com/"):
        return "slack"
    if scheme in ("mailto", "mailtos", "email", "emails"):
        return "email"
    if scheme == "line":
        return "line"
    return "text"


@dataclass(frozen=True)
class Item:
    text: str  # already safe
    link: str | None = None  # already safe_link-ed
    meta: str = ""  # already safe


@dataclass
class Doc:
    title: str
    blocks: list = field(default_factory=list)  # ("h"|"p", text) | ("items", [Item]) | ("link", label, url)
    lang: str = "en"  # the HTML document's language

    def h(self, text: str) -> None:
        self.blocks.append(("h", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, items: list[Item]) -> None:
        if items:
            self.blocks.append(("items", list(items)))

    def link(self, label: str, url: str) -> None:
        self.blocks.append(("link", label, url))


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    markdown: str = ""
    html: str = ""

    def for_channel(self, channel: str) -> tuple[str, str]:
        """(apprise body format, body) for a channel."""
        if channel == "slack" and self.markdown:
            return "markdown", self.markdown
        if channel == "email" and self.html:
            return "html", self.html
        return "text", self.text


def _md_url(url: str) -> str:
    return url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def _text(doc: Doc, dropped: int, more: str) -> str:
    out: list[str] = []
    for block in doc.blocks:
        if block[0] in ("h", "p"):
            out.append(block[1])
        elif block[0] == "items":
            items = block[1][: len(block[1]) - dropped] if dropped else block[1]
            for i, it in enumerate(items, 1):
                out.append(f"{i}. {it.text}")
                tail = "  ".join(x for x in (it.link or "", f"[{it.meta}]" if it.meta else "") if x)
                if tail:
                    out.append(f"   {tail}")
            if dropped:
                out.append(more.format(n=dropped))
        elif block[0] == "link":
            out.append(f"{block[1]} {block[2]}")
    return "\n".join(out)


_LINK = {"zh-TW": "連結", "en": "link"}


def _markdown(doc: Doc) -> str:
    out: list[str] = []
    word = _LINK.get(doc.lang, _LINK["en"])
    for block in doc.blocks:
        if block[0] == "h":
            out.append(f"**{block[1]}**")
        elif block[0] == "p":
            out.append(block[1])
        elif block[0] == "items":
            for i, it in enumerate(block[1], 1):
                line = f"{i}. {it.text}"
                extra = [f"[{word}]({_md_url(it.link)})" if it.link else "", it.meta]
                extra = [e for e in extra if e]
                if extra:
                    line += "  \n   " + " · ".join(extra)
                out.append(line)
        elif block[0] == "link":
            out.append(f"[{block[1]}]({_md_url(block[2])})")
    return "\n".join(out)


def _html(doc: Doc) -> str:
    """A whole HTML document (what mail clients expect), escaped throughout."""
    e = html.escape
    out = ["<!DOCTYPE html>", f'<html lang="{e(doc.lang, quote=True)}">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{e(doc.title)}</title>",
           "</head>", "<body>", f"<h3>{e(doc.title)}</h3>"]
    for block in doc.blocks:
        if block[0] == "h":
            out.append(f"<p><strong>{e(block[1])}</strong></p>")
        elif block[0] == "p":
            if block[1]:
                out.append(f"<p>{e(block[1])}</p>")
        elif block[0] == "items":
            lis = []
            for it in block[1]:
                li = e(it.text)
                if it.link:
                    li += f'<br><a href="{e(it.link, quote=True)}">{e(it.link)}</a>'
                if it.meta:
                    li += f" <small>[{e(it.meta)}]</small>"
                lis.append(f"<li>{li}</li>")
            out.append("<ol>" + "".join(lis) + "</ol>")
        elif block[0] == "link":  # the URL as the link's text: the e-mail's text part keeps it
            out.append(f'<p>{e(block[1])} <a href="{e(block[2], quote=True)}">{e(block[2])}</a></p>')
    out += ["</body>", "</html>"]
    return "\n".join(out)


def render(doc: Doc, more: str = "… {n} more", limit: int = TEXT_LIMIT) -> Message:
    """Write a document out in every channel format; the text stays under ``limit``."""
    count = sum(len(b[1]) for b in doc.blocks if b[0] == "items")
    text = _text(doc, 0, more)
    dropped = 0
    while len(text) > limit and dropped < count:
        dropped += 1
        text = _text(doc, dropped, more)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return Message(doc.title, text, _markdown(doc), _html(doc))


def utc_offset(local: datetime) -> str:
    """``+08:00``: the offset of an aware time (zone abbreviations such as CST are ambiguous)."""
    raw = local.strftime("%z")
    return f"{raw[:3]}:{raw[3:5]}"


def local_time(when: datetime, timezone: str, with_utc: bool = True) -> str:
    """``2026-11-22 19:00 +08:00 (11:00 UTC)`` (``with_utc``: the UTC time beside), or
    ``2026-11-22 10:00 UTC`` in UTC."""
    from zoneinfo import ZoneInfo

    if timezone == "UTC":
        return when.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    local = when.astimezone(ZoneInfo(timezone))
    shown = local.strftime("%Y-%m-%d %H:%M ") + utc_offset(local)
    if with_utc:
        shown += when.astimezone(ZoneInfo("UTC")).strftime(" (%H:%M UTC)")
    return shown


_UNITS = {  # a duration in words, largest unit first
    "zh-TW": ((86400, "天"), (3600, "小時"), (60, "分鐘"), (1, "秒")),
    "en": ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")),
}


def _words(seconds: int, language: str) -> str:
    units = _UNITS.get(language, _UNITS["en"])
    parts = []
    for size, name in units:
        if seconds >= size:
            parts.append(f"{seconds // size} {name}")
            seconds %= size
    return " ".join(parts) or f"0 {units[-1][1]}"


def span(value: timedelta, language: str = "en") -> str:
    """A duration in a page: Traditional Chinese in words (``1 小時 30 分鐘``); English keeps
    the compact form of the config (``1h30m``)."""
    if language == "zh-TW":
        return _words(int(value.total_seconds()), language)
    return format_duration(value)


def time_left(deadline: datetime, now: datetime, language: str = "en") -> str:
    """The countdown to a deadline in whole minutes (rounded down): ``剩 45 分鐘`` / ``45 min left``."""
    minutes = int((deadline - now).total_seconds()) // 60
    if language == "zh-TW":
        return f"剩 {_words(minutes * 60, language)}" if minutes >= 1 else "剩不到 1 分鐘"
    return f"{_words(minutes * 60, 'en')} left" if minutes >= 1 else "under 1 min left"


def ago(delta: timedelta, language: str = "en") -> str:
    return span(timedelta(seconds=max(int(delta.total_seconds()) // 60 * 60, 60)), language)
