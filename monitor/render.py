"""Turn an alert into a message people read, safely.

Untrusted text (reviews, posts, titles, even URLs from a feed) is never passed on
as-is: it is masked for patient data (:mod:`monitor.privacy`), stripped of control
and bidi-override characters, cut short, and *defanged* so it cannot become a link
or markup in Slack, LINE or e-mail: ``<>&`` and markdown link syntax are replaced
by look-alikes, and URLs inside the text are written ``hxxps://example[.]com``.
The one link per mention is the stored canonical URL, and only http(s) is allowed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

from monitor.config import format_duration
from monitor.privacy import mask_phi
from monitor.storage import StoredMention

_CTRL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_PLACEHOLDER = re.compile(r"［(ID|phone|email|chart no\.|date of birth)］")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s]+|\bwww\.[^\s]+")
_MARKUP = str.maketrans({"<": "‹", ">": "›", "&": "＆", "[": "［", "]": "］", "*": "∗", "_": "＿",
                         "`": "ˋ", "|": "｜", "~": "～", "@": "＠"})


def _defang_url(m: re.Match) -> str:
    u = m.group(0)
    u = re.sub(r"(?i)^http", "hxxp", u)
    return u.replace(".", "[.]").replace("://", "[:]//")


def safe_text(text: str | None, limit: int = 160) -> str:
    """Untrusted text -> one short line safe for any chat or mail channel."""
    text = mask_phi(text or "")
    text = _CTRL.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = _PLACEHOLDER.sub(r"[\1]", text.translate(_MARKUP))  # keep "[ID]" readable
    return _URL.sub(_defang_url, text)


def safe_link(url: str | None) -> str | None:
    """The mention's own link, if it is plain http(s); percent-encodes anything odd."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return quote(url, safe=":/?#=&%+,;-._~!$'()")


@dataclass(frozen=True)
class Message:
    title: str
    body: str


_TEXT = {
    "zh-TW": {
        "title": "[repwatch] {name}:{window}內 {count} 則負面提及",
        "lead": "{name} 在過去 {window} 內有 {count} 則負面提及(門檻 {min})。",
        "update": "此為更新:上次通報後新增 {new} 則。",
        "worst": "最負面的提及:",
        "clock": "黃金一小時:請在 {deadline} 前確認並回應。",
        "privacy": "提醒:回應時請勿確認對方是否為病人,也勿提及任何病歷資訊。",
        "no_link": "(無連結)",
    },
    "en": {
        "title": "[repwatch] {name}: {count} negative mentions in {window}",
        "lead": "{name} has {count} negative mentions in the last {window} (threshold {min}).",
        "update": "Update: {new} new since the last page.",
        "worst": "Worst mentions:",
        "clock": "Golden hour: acknowledge and respond before {deadline}.",
        "privacy": "Reminder: never confirm that anyone is a patient or mention any care details in a reply.",
        "no_link": "(no link)",
    },
}


def burst_message(entity_name: str, mentions: list[StoredMention], count: int, minimum: int,
                  window: timedelta, new: int, first: bool, deadline, language: str = "zh-TW",
                  top: int = 5, timezone: str = "UTC") -> Message:
    from zoneinfo import ZoneInfo

    t = _TEXT.get(language, _TEXT["en"])
    name = safe_text(entity_name, 60)
    win = format_duration(window)
    lines = [t["lead"].format(name=name, window=win, count=count, min=minimum)]
    if not first:
        lines.append(t["update"].format(new=new))
    lines.append("")
    lines.append(t["worst"])
    for i, m in enumerate(mentions[:top], 1):
        both = m.title and m.text and not m.text.startswith(m.title)
        excerpt = safe_text(f"{m.title} — {m.text}" if both else (m.text or m.title), 140)
        score = f"{m.negative_score:.2f}" if m.negative_score is not None else "?"
        lines.append(f"{i}. ({score}) {excerpt}")
        lines.append(f"   {safe_link(m.url) or t['no_link']}  [{safe_text(m.source_id, 40)}]")
    lines.append("")
    local = deadline.astimezone(ZoneInfo(timezone))
    shown = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)
    if timezone != "UTC":
        shown += deadline.strftime(" (%H:%M UTC)")
    lines.append(t["clock"].format(deadline=shown))
    lines.append(t["privacy"])
    return Message(t["title"].format(name=name, window=win, count=count), "\n".join(lines))


_OPS = {
    "zh-TW": {
        "title": "[repwatch 維運] 來源 {source} {state}",
        "states": {"failing": "連續失敗", "blocked": "被封鎖(反爬蟲)", "auth-failed": "認證失敗,已停止輪詢",
                   "silent": "異常安靜", "recovered": "已恢復"},
        "lead": "來源 {source}({type})目前狀態:{state}。",
        "reason": "原因:{reason}",
        "failures": "連續失敗次數:{n}",
        "last_ok": "上次成功:{when}",
        "never": "從未成功",
        "silence": "沒有聲音不代表平靜:這個來源恢復前,這裡的負評不會被偵測到。",
        "recovered": "這個來源已恢復正常輪詢。",
    },
    "en": {
        "title": "[repwatch ops] source {source} is {state}",
        "states": {"failing": "failing", "blocked": "blocked (anti-bot)", "auth-failed": "auth-failed, polling stopped",
                   "silent": "silent", "recovered": "recovered"},
        "lead": "Source {source} ({type}) is {state}.",
        "reason": "Why: {reason}",
        "failures": "Consecutive failures: {n}",
        "last_ok": "Last success: {when}",
        "never": "never",
        "silence": "Silence is not calm: until this source recovers, negative talk there goes unseen.",
        "recovered": "The source is polling normally again.",
    },
}


def ops_notice(source_id: str, source_type: str, state: str, reason: str, failures: int, last_success,
               last_error: str | None, language: str = "en", timezone: str = "UTC") -> Message:
    """A source-health notice for the ops route. It carries ids, states and error
    reasons, never mention text."""
    from zoneinfo import ZoneInfo

    t = _OPS.get(language, _OPS["en"])
    label = t["states"].get(state, state)
    src = safe_text(source_id, 64)
    lines = [t["lead"].format(source=src, type=safe_text(source_type, 32), state=label)]
    if state == "recovered":
        lines.append(t["recovered"])
    else:
        lines.append(t["reason"].format(reason=safe_text(reason, 300)))
        lines.append(t["failures"].format(n=failures))
        when = t["never"]
        if last_success is not None:
            local = last_success.astimezone(ZoneInfo(timezone))
            when = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)
        lines.append(t["last_ok"].format(when=when))
        lines.append(t["silence"])
    return Message(t["title"].format(source=src, state=label), "\n".join(lines))
