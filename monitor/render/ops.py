"""Notices for the ops route: source health and alerts no route took. They carry ids,
states and error reasons, never mention text."""
from __future__ import annotations

from monitor.alerting.facts import SourceHealthFacts
from monitor.render.doc import Doc, Message, local_time, render
from monitor.render.safe import safe_text

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


def ops_notice(facts: SourceHealthFacts, language: str = "en", timezone: str = "UTC") -> Message:
    """A source-health notice for the ops route."""
    t = _OPS.get(language, _OPS["en"])
    label = t["states"].get(facts.state, facts.state)
    src = safe_text(facts.source, 64)
    doc = Doc(t["title"].format(source=src, state=label), lang=language)
    doc.p(t["lead"].format(source=src, type=safe_text(facts.type, 32), state=label))
    if facts.state == "recovered":
        doc.p(t["recovered"])
    else:
        doc.p(t["reason"].format(reason=safe_text(facts.reason, 300)))
        doc.p(t["failures"].format(n=facts.failures))
        when = local_time(facts.last_success, timezone, False) if facts.last_success is not None else t["never"]
        doc.p(t["last_ok"].format(when=when))
        doc.p(t["silence"])
    return render(doc)


def unrouted_notice(rule_id: str, entity_id: str, severity: str, language: str = "en") -> Message:
    t = _OPS.get(language, _OPS["en"])
    doc = Doc(t["unrouted"].format(rule=safe_text(rule_id, 64)), lang=language)
    doc.p(t["unrouted_lead"].format(rule=safe_text(rule_id, 64), entity=safe_text(entity_id, 64), severity=severity))
    return render(doc)
