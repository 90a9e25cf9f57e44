"""The daily digest."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.causes import cause_names
from monitor.render.doc import Doc, Message, local_time, render
from monitor.render.incident import mention_items, score_note
from monitor.render.safe import safe_text
from monitor.store import StoredMention

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
    doc = Doc(t["title"].format(date=day), lang=language)
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
        note = score_note(worst, language)
        if note:
            doc.p(note)
        doc.items(mention_items(worst, language, 5))
    doc.h(t["open"])
    if not open_incidents:
        doc.p(t["none_open"])
    for inc in open_incidents:
        status = t["status"].get(inc.status, inc.status).format(by=safe_text(inc.acked_by or "", 40))
        doc.p("• " + t["inc"].format(id=inc.id, name=safe_text(inc.entity_name, 60), status=status,
                                     deadline=local_time(inc.deadline, timezone, False)))
    return render(doc, t["more"])
