"""Pages (first, update, repeat, escalation) and acknowledgements, from typed facts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.alerting.facts import AttackFacts, BurstFacts, Facts, SevereFacts, SpikeFacts
from monitor.causes import cause_names
from monitor.privacy import mask_url
from monitor.render.attack import attack_evidence, attack_headline, attack_lead
from monitor.render.defence import DefenceFacts, defence_evidence, defence_headline, defence_lead, shown_excerpt
from monitor.render.doc import Doc, Item, Message, ago, local_time, render, span, time_left
from monitor.render.safe import safe_link, safe_text
from monitor.store import StoredMention

_TEXT = {
    "zh-TW": {
        "burst": "{window}內 {count} 則負面提及",
        "burst_lead": "過去 {window}內有 {count} 則負面提及(門檻 {min})。",
        "spike": "負面聲量暴增:{window}內 {count} 則",
        "spike_lead": "過去 {window}內有 {count} 則負面提及;依過去 {baseline}的基準,應約 {expected} 則{ratio}。",
        "ratio": "(約 {r} 倍)",
        "severe": "嚴重提及",
        "severe_lead": "單則嚴重提及({why})。",
        "why_score": "負面機率 {score}",
        "why_terms": "關鍵字:{terms}",
        "and_more": "等 {n} 項警示",
        "prefix": {"page": "", "update": "[更新] ", "repeat": "[尚未確認] ", "escalation": "[升級] "},
        "incident": "事件 #{id}|嚴重度 {severity}|{name}",
        "severity": {"critical": "緊急", "warning": "警告", "info": "資訊"},
        "update": "此事件有新的提及。",
        "repeat": "此事件仍未確認,請指派負責人。",
        "escalation": "此事件在 {after}內無人確認,依升級規則通知 {route}。",
        "worst": "最負面的提及:",
        "score": "負面分數 {score}:模型判斷這則提及對名譽不利的信心(0–1),越接近 1 越負面。",
        "clock": "黃金一小時:請在 {deadline} 前確認並回應({left})。",
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
        "severity": {},
        "update": "New mentions joined this incident.",
        "repeat": "Nobody has acknowledged this incident yet; please assign an owner.",
        "escalation": "Nobody acknowledged this incident within {after}; escalated to {route}.",
        "worst": "Worst mentions:",
        "score": "Negative score {score}: the model's confidence (0–1) that the mention harms your reputation; "
                 "nearer 1 is more negative.",
        "clock": "Golden hour: acknowledge and respond before {deadline} ({left}).",
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


def headline(facts: Facts, language: str) -> str:
    t = _TEXT.get(language, _TEXT["en"])
    if isinstance(facts, (BurstFacts, SpikeFacts)):
        win = span(timedelta(seconds=facts.window), language)
        return t[facts.kind].format(window=win, count=facts.count)
    if isinstance(facts, AttackFacts):
        return attack_headline(facts, language)
    if isinstance(facts, DefenceFacts):
        return defence_headline(facts, language)
    return t["severe"]


def _lead(facts: Facts, t: dict, language: str) -> str:
    if isinstance(facts, BurstFacts):
        win = span(timedelta(seconds=facts.window), language)
        return t["burst_lead"].format(window=win, count=facts.count, min=facts.min)
    if isinstance(facts, SpikeFacts):
        ratio = t["ratio"].format(r=facts.ratio) if facts.ratio else ""
        return t["spike_lead"].format(window=span(timedelta(seconds=facts.window), language), count=facts.count,
                                      baseline=span(timedelta(seconds=facts.baseline), language),
                                      expected=f"{facts.expected:.1f}", ratio=ratio)
    if isinstance(facts, DefenceFacts):
        return defence_lead(facts, language)
    if not isinstance(facts, SevereFacts):
        raise TypeError(f"no page text for {facts.kind} facts")
    why = []
    if facts.severe_score:
        why.append(t["why_score"].format(score=f"{facts.score:.2f}"))
    if facts.terms:
        why.append(t["why_terms"].format(terms=safe_text("、".join(facts.terms), 80)))
    return t["severe_lead"].format(why="; ".join(why) or t["why_score"].format(score=f"{facts.score:.2f}"))


def mention_items(mentions: list[StoredMention], language: str, top: int = 5) -> list[Item]:
    t = _TEXT.get(language, _TEXT["en"])
    items = []
    for m in mentions[:top]:
        excerpt = shown_excerpt(m, language, 140)
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


def score_note(mentions: list[StoredMention], language: str) -> str | None:
    """One line that says what the score beside each mention is, with the first one's score."""
    scored = next((m.negative_score for m in mentions if m.negative_score is not None), None)
    if scored is None:
        return None
    return _TEXT.get(language, _TEXT["en"])["score"].format(score=f"{scored:.2f}")


@dataclass(frozen=True)
class AlertView:
    """What a message needs to know about one alert (no I/O in this module)."""

    facts: Facts


def incident_message(kind: str, incident_id: int, severity: str, entity_name: str, alerts: list[AlertView],
                     mentions: list[StoredMention], deadline: datetime, now: datetime, language: str = "zh-TW",
                     timezone: str = "UTC", ack_url: str | None = None, escalated_to: str = "",
                     escalate_after: timedelta | None = None, top: int = 5) -> Message:
    """A page (first), update (new mentions), repeat (still unacknowledged) or escalation."""
    t = _TEXT.get(language, _TEXT["en"])
    name = safe_text(entity_name, 60)
    head = headline(alerts[0].facts, language) if alerts else t["severe"]
    if len(alerts) > 1:
        head += " " + t["and_more"].format(n=len(alerts) - 1)
    sep = ":" if language == "zh-TW" else ": "
    doc = Doc(f"[repwatch] {t['prefix'].get(kind, '')}{name}{sep}{head}", lang=language)
    doc.h(t["incident"].format(id=incident_id, severity=t["severity"].get(severity, severity), name=name))
    if kind == "update":
        doc.p(t["update"])
    elif kind == "repeat":
        doc.p(t["repeat"])
    elif kind == "escalation":
        doc.p(t["escalation"].format(after=span(escalate_after or timedelta(0), language),
                                     route=safe_text(escalated_to, 40)))
    seen: set[str] = set()
    for a in alerts:
        lead = attack_lead(a.facts, language) if isinstance(a.facts, AttackFacts) else _lead(a.facts, t, language)
        if lead not in seen:
            seen.add(lead)
            doc.p(lead)
            if isinstance(a.facts, AttackFacts):
                attack_evidence(doc, a.facts, mentions, language)
        if isinstance(a.facts, DefenceFacts):
            defence_evidence(doc, a.facts, language)
    if mentions:
        doc.p("")
        doc.p(t["worst"])
        note = score_note(mentions, language)
        if note:
            doc.p(note)
        doc.items(mention_items(mentions, language, top))
        doc.p("")
    shown = local_time(deadline, timezone)
    doc.p(t["clock" if now <= deadline else "late"].format(deadline=shown, left=time_left(deadline, now, language)))
    if ack_url:
        doc.link(t["ack_link"], ack_url)
    doc.p(t["ack_cli"].format(id=incident_id))
    doc.p(t["privacy"])
    return render(doc, t["more"])


def ack_message(incident_id: int, entity_name: str, by: str, via: str, acked_at: datetime, first_detected: datetime,
                deadline: datetime, language: str = "zh-TW", timezone: str = "UTC") -> Message:
    t = _TEXT.get(language, _TEXT["en"])
    who = safe_text(by, 64)
    doc = Doc(t["acked_title"].format(id=incident_id, by=who), lang=language)
    doc.p(t["acked"].format(name=safe_text(entity_name, 60), id=incident_id, by=who,
                            when=local_time(acked_at, timezone, False), via=t["via"].get(via, via),
                            took=ago(acked_at - first_detected, language), met=t["met" if acked_at <= deadline else "missed"]))
    return render(doc)
