"""Turn alerts, incidents and digests into messages people read, safely.

A message is built once as a small document (headings, paragraphs, numbered items
with links) and written out per channel: plain text (LINE, JSON and anything else;
capped below LINE's 5,000 characters by dropping items, never the deadline or the ack
line), CommonMark for Slack (apprise turns it into Slack mrkdwn), and HTML plus a text
part for e-mail. :func:`channel_of` picks the format from the apprise URL.

Untrusted text (reviews, posts, titles, even URLs from a feed) is never passed on
as-is: it is masked for patient data (:mod:`monitor.privacy`), stripped of control
and bidi-override characters, cut short, and *defanged* so it cannot become a link
or markup in Slack, LINE or e-mail: ``<>&`` and markdown link syntax are replaced
by look-alikes, and URLs inside the text are written ``hxxps://example[.]com``.
The one link per mention is the stored canonical URL, and only http(s) is allowed.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from monitor.causes import cause_names
from monitor.config import format_duration
from monitor.privacy import mask_phi, mask_url
from monitor.store import StoredMention
from monitor.text import one_line

_PLACEHOLDER = re.compile(r"［(ID|phone|email|chart no\.|date of birth|LINE ID)］")
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s]+|\bwww\.[^\s]+")
_MARKUP = str.maketrans({"<": "‹", ">": "›", "&": "＆", "[": "［", "]": "］", "*": "∗", "_": "＿",
                         "`": "ˋ", "|": "｜", "~": "～", "@": "＠"})


def _defang_url(m: re.Match) -> str:
    u = m.group(0)
    u = re.sub(r"(?i)^http", "hxxp", u)
    return u.replace(".", "[.]").replace("://", "[:]//")


def safe_text(text: str | None, limit: int = 160) -> str:
    """Untrusted text -> one short line safe for any chat or mail channel."""
    text = one_line(mask_phi(text or ""), limit)
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


LINE_LIMIT = 5000  # characters in one LINE text message
TEXT_LIMIT = 4900


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


def _markdown(doc: Doc) -> str:
    out: list[str] = []
    for block in doc.blocks:
        if block[0] == "h":
            out.append(f"**{block[1]}**")
        elif block[0] == "p":
            out.append(block[1])
        elif block[0] == "items":
            for i, it in enumerate(block[1], 1):
                line = f"{i}. {it.text}"
                extra = [f"[{'link' if it.link else ''}]({_md_url(it.link)})" if it.link else "", it.meta]
                extra = [e for e in extra if e]
                if extra:
                    line += "  \n   " + " · ".join(extra)
                out.append(line)
        elif block[0] == "link":
            out.append(f"[{block[1]}]({_md_url(block[2])})")
    return "\n".join(out)


def _html(doc: Doc) -> str:
    e = html.escape
    out = [f"<h3>{e(doc.title)}</h3>"]
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
        elif block[0] == "link":
            out.append(f'<p><a href="{e(block[2], quote=True)}">{e(block[1])}</a></p>')
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


def local_time(when: datetime, timezone: str, with_utc: bool = True) -> str:
    from zoneinfo import ZoneInfo

    local = when.astimezone(ZoneInfo(timezone))
    shown = local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or timezone)
    if with_utc and timezone != "UTC":
        shown += when.strftime(" (%H:%M UTC)")
    return shown


def _ago(delta: timedelta) -> str:
    return format_duration(timedelta(seconds=max(int(delta.total_seconds()) // 60 * 60, 60)))


_TEXT = {
    "zh-TW": {
        "burst": "{window}內 {count} 則負面提及",
        "burst_lead": "過去 {window} 內有 {count} 則負面提及(門檻 {min})。",
        "spike": "負面聲量暴增:{window}內 {count} 則",
        "spike_lead": "過去 {window} 內有 {count} 則負面提及;依過去 {baseline} 的基準,應約 {expected} 則{ratio}。",
        "ratio": "(約 {r} 倍)",
        "severe": "嚴重提及",
        "severe_lead": "單則嚴重提及({why})。",
        "why_score": "負面機率 {score}",
        "why_terms": "關鍵字:{terms}",
        "and_more": "等 {n} 項警示",
        "prefix": {"page": "", "update": "[更新] ", "repeat": "[尚未確認] ", "escalation": "[升級] "},
        "incident": "事件 #{id}|嚴重度 {severity}|{name}",
        "update": "此事件有新的提及。",
        "repeat": "此事件仍未確認,請指派負責人。",
        "escalation": "此事件在 {after} 內無人確認,依升級規則通知 {route}。",
        "worst": "最負面的提及:",
        "clock": "黃金一小時:請在 {deadline} 前確認並回應。",
        "late": "已超過黃金一小時的期限({deadline})。",
        "ack_link": "認領此事件:",
        "ack_cli": "或執行:repwatch ack {id} --by 你的名字",
        "privacy": "提醒:回應時請勿確認對方是否為病人,也勿提及任何病歷資訊。",
        "no_link": "(無連結)",
        "causes": "原因:{causes}",
        "by_human": "人工判定",
        "stars_only": "(只有星等,沒有文字)",
        "more": "…另有 {n} 則未列出",
        "acked_title": "[repwatch] 事件 #{id} 已由 {by} 認領",
        "acked": "{name} 的事件 #{id} 已由 {by} 於 {when} 認領({via})。用時 {took}{met}。",
        "met": ",在黃金一小時內",
        "missed": ",超過黃金一小時",
        "via": {"cli": "指令", "link": "連結"},
    },
    "en": {
        "burst": "{count} negative mentions in {window}",
        "burst_lead": "{count} negative mentions in the last {window} (threshold {min}).",
        "spike": "negative spike: {count} in {window}",
        "spike_lead": "{count} negative mentions in the last {window}; the {baseline} baseline predicts {expected}{ratio}.",
        "ratio": " ({r}x)",
        "severe": "severe mention",
        "severe_lead": "A single severe mention ({why}).",
        "why_score": "P(negative) {score}",
        "why_terms": "terms: {terms}",
        "and_more": "and {n} more alerts",
        "prefix": {"page": "", "update": "[update] ", "repeat": "[unacknowledged] ", "escalation": "[escalated] "},
        "incident": "Incident #{id} | severity {severity} | {name}",
        "update": "New mentions joined this incident.",
        "repeat": "Nobody has acknowledged this incident yet; please assign an owner.",
        "escalation": "Nobody acknowledged this incident within {after}; escalated to {route}.",
        "worst": "Worst mentions:",
        "clock": "Golden hour: acknowledge and respond before {deadline}.",
        "late": "The golden-hour deadline ({deadline}) has passed.",
        "ack_link": "Acknowledge (take ownership):",
        "ack_cli": "or run: repwatch ack {id} --by YOUR-NAME",
        "privacy": "Reminder: never confirm that anyone is a patient or mention any care details in a reply.",
        "no_link": "(no link)",
        "causes": "cause: {causes}",
        "by_human": "labelled by a person",
        "stars_only": "(stars only, no text)",
        "more": "… {n} more not shown",
        "acked_title": "[repwatch] incident #{id} acknowledged by {by}",
        "acked": "Incident #{id} ({name}) was acknowledged by {by} at {when} via {via}, {took} after the first "
                 "detection{met}.",
        "met": ", inside the golden hour",
        "missed": ", after the golden hour",
        "via": {"cli": "the CLI", "link": "the page link"},
    },
}


def headline(alert_kind: str, facts: dict, language: str) -> str:
    t = _TEXT.get(language, _TEXT["en"])
    win = format_duration(timedelta(seconds=facts.get("window", 3600)))
    if alert_kind == "burst":
        return t["burst"].format(window=win, count=facts.get("count", "?"))
    if alert_kind == "spike":
        return t["spike"].format(window=win, count=facts.get("count", "?"))
    return t["severe"]


def _lead(alert_kind: str, facts: dict, t: dict) -> str:
    win = format_duration(timedelta(seconds=facts.get("window", 3600)))
    if alert_kind == "burst":
        return t["burst_lead"].format(window=win, count=facts.get("count"), min=facts.get("min"))
    if alert_kind == "spike":
        ratio = t["ratio"].format(r=facts["ratio"]) if facts.get("ratio") else ""
        base = format_duration(timedelta(seconds=facts.get("baseline", 14 * 86400)))
        return t["spike_lead"].format(window=win, count=facts.get("count"), baseline=base,
                                      expected=f"{facts.get('expected', 0):.1f}", ratio=ratio)
    why = []
    if facts.get("score") is not None and facts.get("severe_score"):
        why.append(t["why_score"].format(score=f"{facts['score']:.2f}"))
    if facts.get("terms"):
        why.append(t["why_terms"].format(terms=safe_text("、".join(facts["terms"]), 80)))
    return t["severe_lead"].format(why="; ".join(why) or t["why_score"].format(score=f"{facts.get('score', 0):.2f}"))


def mention_items(mentions: list[StoredMention], language: str, top: int = 5) -> list[Item]:
    t = _TEXT.get(language, _TEXT["en"])
    items = []
    for m in mentions[:top]:
        both = m.title and m.text and not m.text.startswith(m.title)
        excerpt = safe_text(f"{m.title} — {m.text}" if both else (m.text or m.title), 140)
        if not excerpt and m.rating is not None:
            excerpt = t["stars_only"]
        score = f"{m.negative_score:.2f}" if m.negative_score is not None else "?"
        facts = [score]
        if m.rating is not None:
            facts.append(f"{m.rating:.0f}★")
        if m.causes:
            facts.append(t["causes"].format(causes=cause_names(m.causes, language)))
        if m.verdict_by == "human":
            facts.append(t["by_human"])
        link = safe_link(mask_url(m.url))
        items.append(Item(f"({' · '.join(facts)}) {excerpt}", link,
                          safe_text(m.source_id, 40) + ("" if link else " " + t["no_link"])))
    return items


@dataclass(frozen=True)
class AlertView:
    """What a message needs to know about one alert (no I/O in this module)."""

    kind: str
    facts: dict


def incident_message(kind: str, incident_id: int, severity: str, entity_name: str, alerts: list[AlertView],
                     mentions: list[StoredMention], deadline: datetime, now: datetime, language: str = "zh-TW",
                     timezone: str = "UTC", ack_url: str | None = None, escalated_to: str = "",
                     escalate_after: timedelta | None = None, top: int = 5) -> Message:
    """A page (first), update (new mentions), repeat (still unacknowledged) or escalation."""
    t = _TEXT.get(language, _TEXT["en"])
    name = safe_text(entity_name, 60)
    head = headline(alerts[0].kind, alerts[0].facts, language) if alerts else t["severe"]
    if len(alerts) > 1:
        head += " " + t["and_more"].format(n=len(alerts) - 1)
    sep = ":" if language == "zh-TW" else ": "
    doc = Doc(f"[repwatch] {t['prefix'].get(kind, '')}{name}{sep}{head}")
    doc.h(t["incident"].format(id=incident_id, severity=severity, name=name))
    if kind == "update":
        doc.p(t["update"])
    elif kind == "repeat":
        doc.p(t["repeat"])
    elif kind == "escalation":
        doc.p(t["escalation"].format(after=format_duration(escalate_after or timedelta(0)),
                                     route=safe_text(escalated_to, 40)))
    seen: set[str] = set()
    for a in alerts:
        lead = _lead(a.kind, a.facts, t)
        if lead not in seen:
            seen.add(lead)
            doc.p(lead)
    if mentions:
        doc.p("")
        doc.p(t["worst"])
        doc.items(mention_items(mentions, language, top))
        doc.p("")
    shown = local_time(deadline, timezone)
    doc.p(t["clock" if now <= deadline else "late"].format(deadline=shown))
    if ack_url:
        doc.link(t["ack_link"], ack_url)
    doc.p(t["ack_cli"].format(id=incident_id))
    doc.p(t["privacy"])
    return render(doc, t["more"])


def ack_message(incident_id: int, entity_name: str, by: str, via: str, acked_at: datetime, first_detected: datetime,
                deadline: datetime, language: str = "zh-TW", timezone: str = "UTC") -> Message:
    t = _TEXT.get(language, _TEXT["en"])
    who = safe_text(by, 64)
    doc = Doc(t["acked_title"].format(id=incident_id, by=who))
    doc.p(t["acked"].format(name=safe_text(entity_name, 60), id=incident_id, by=who,
                            when=local_time(acked_at, timezone, False), via=t["via"].get(via, via),
                            took=_ago(acked_at - first_detected), met=t["met" if acked_at <= deadline else "missed"]))
    return render(doc)


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
        "unrouted": "[repwatch 維運] 警示沒有對應的路由:{rule}",
        "unrouted_lead": "規則 {rule} 對 {entity} 發出的警示({severity})沒有任何路由符合,危機小組沒有收到。請修正 [[routes]] 的 matchers。",
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
        "unrouted": "[repwatch ops] an alert matched no route: {rule}",
        "unrouted_lead": "Rule {rule} fired for {entity} ({severity}) but no route matched, so the crisis team was "
                         "not paged. Fix the matchers in [[routes]].",
    },
}


def ops_notice(source_id: str, source_type: str, state: str, reason: str, failures: int, last_success,
               last_error: str | None, language: str = "en", timezone: str = "UTC") -> Message:
    """A source-health notice for the ops route. It carries ids, states and error
    reasons, never mention text."""
    t = _OPS.get(language, _OPS["en"])
    label = t["states"].get(state, state)
    src = safe_text(source_id, 64)
    doc = Doc(t["title"].format(source=src, state=label))
    doc.p(t["lead"].format(source=src, type=safe_text(source_type, 32), state=label))
    if state == "recovered":
        doc.p(t["recovered"])
    else:
        doc.p(t["reason"].format(reason=safe_text(reason, 300)))
        doc.p(t["failures"].format(n=failures))
        when = local_time(last_success, timezone, False) if last_success is not None else t["never"]
        doc.p(t["last_ok"].format(when=when))
        doc.p(t["silence"])
    return render(doc)


def unrouted_notice(rule_id: str, entity_id: str, severity: str, language: str = "en") -> Message:
    t = _OPS.get(language, _OPS["en"])
    doc = Doc(t["unrouted"].format(rule=safe_text(rule_id, 64)))
    doc.p(t["unrouted_lead"].format(rule=safe_text(rule_id, 64), entity=safe_text(entity_id, 64), severity=severity))
    return render(doc)


_DIGEST = {
    "zh-TW": {"title": "[repwatch] 每日摘要 {date}", "lead": "過去 24 小時:{total} 則提及,其中 {neg} 則負面。",
              "by_entity": "依對象:", "by_source": "依來源:", "by_cause": "負面原因:", "cause_row": "{name}:{n} 則", "row": "{name}:{total} 則(負面 {neg})",
              "worst": "最負面的提及:", "open": "未結事件:", "none_open": "沒有未結事件。",
              "inc": "#{id} {name}|{status}|期限 {deadline}", "status": {"open": "未認領", "acked": "已由 {by} 認領"},
              "quiet": "過去 24 小時沒有新的提及。請確認各來源狀態正常(repwatch sources)。",
              "more": "…另有 {n} 則未列出"},
    "en": {"title": "[repwatch] daily digest {date}", "lead": "Last 24 hours: {total} mentions, {neg} negative.",
           "by_entity": "By doctor or clinic:", "by_source": "By source:", "by_cause": "Causes of negative mentions:",
           "cause_row": "{name}: {n}", "row": "{name}: {total} ({neg} negative)",
           "worst": "Worst mentions:", "open": "Open incidents:", "none_open": "No open incidents.",
           "inc": "#{id} {name} | {status} | deadline {deadline}", "status": {"open": "unacknowledged", "acked": "acked by {by}"},
           "quiet": "No new mentions in 24 hours. Check that every source is healthy (repwatch sources).",
           "more": "… {n} more not shown"},
}


@dataclass(frozen=True)
class IncidentView:
    id: int
    entity_name: str
    status: str
    acked_by: str | None
    deadline: datetime


def digest_message(day: str, by_entity: list[tuple[str, int, int]], by_source: list[tuple[str, int, int]],
                   worst: list[StoredMention], open_incidents: list[IncidentView], language: str = "zh-TW",
                   timezone: str = "UTC", by_cause: list[tuple[str, int]] = ()) -> Message:
    """Counts by entity and source (name, total, negative), negative mentions by cause, the
    worst mentions, open incidents."""
    t = _DIGEST.get(language, _DIGEST["en"])
    doc = Doc(t["title"].format(date=day))
    total, neg = sum(r[1] for r in by_entity), sum(r[2] for r in by_entity)
    doc.p(t["lead"].format(total=total, neg=neg) if by_entity else t["quiet"])
    for head, rows in ((t["by_entity"], by_entity), (t["by_source"], by_source)):
        if rows:
            doc.h(head)
            for name, n, k in rows:
                doc.p("• " + t["row"].format(name=safe_text(name, 60), total=n, neg=k))
    if by_cause:
        doc.h(t["by_cause"])
        for cause, n in by_cause:
            doc.p("• " + t["cause_row"].format(name=cause_names((cause,), language), n=n))
    if worst:
        doc.h(t["worst"])
        doc.items(mention_items(worst, language, 5))
    doc.h(t["open"])
    if not open_incidents:
        doc.p(t["none_open"])
    for inc in open_incidents:
        status = t["status"].get(inc.status, inc.status).format(by=safe_text(inc.acked_by or "", 40))
        doc.p("• " + t["inc"].format(id=inc.id, name=safe_text(inc.entity_name, 60), status=status,
                                     deadline=local_time(inc.deadline, timezone, False)))
    return render(doc, t["more"])
