"""The headline, lead and evidence of ``extortion`` and ``phi-exposure`` pages
(:class:`~monitor.alerting.facts.ExtortionFacts`, :class:`~monitor.alerting.facts.PhiExposureFacts`),
and what a page shows for a restricted mention.

Extortion evidence: the mention ids, the frame, the matched phrases and the masked excerpt,
each through :func:`monitor.render.safe.safe_text` (masked, one line, defanged). PHI exposure
evidence: the mention ids and the kinds of data exposed, never the text (it is restricted:
:func:`monitor.defence.phi.is_restricted`)."""
from __future__ import annotations

from monitor.alerting.facts import ExtortionFacts, PhiExposureFacts
from monitor.defence.phi import is_restricted, restricted_note
from monitor.render.doc import Doc
from monitor.render.safe import safe_text
from monitor.store import StoredMention

DefenceFacts = (ExtortionFacts, PhiExposureFacts)

_TEXT = {
    "zh-TW": {
        "extortion": "疑似勒索:付費刪文或威脅",
        "extortion_lead": "有貼文以刪文換取金錢,或威脅不付錢就繼續發文({frame})。請交法務處理,勿私下付款或回應金額。",
        "frames": {"removal-service": "付費刪評服務", "pay-to-delete": "付錢刪文", "threat": "不付錢就繼續發的威脅"},
        "phi-exposure": "病人個資外洩",
        "phi_lead": "有公開貼文揭露了病人的個人資料({exposed}),旁邊有 {names} 個人名。原文僅限管理員檢視;"
                    "請隱私長處理下架與通報。",
        "kinds": {"ID": "身分證/證件號碼", "phone": "電話", "email": "電子郵件", "chart no.": "病歷號碼",
                  "date of birth": "出生日期", "LINE ID": "LINE ID"},
        "sep": "、",
        "ids": "證據:提及 {ids}",
        "phrases": "關鍵語句:{phrases}",
        "excerpt": "摘錄(已遮蔽個資):{excerpt}",
    },
    "en": {
        "extortion": "possible extortion: pay-to-delete or threat",
        "extortion_lead": "A post offers deletion for money or threatens more posts unless paid ({frame}). "
                          "Hand it to legal; do not pay or name a sum in public.",
        "frames": {"removal-service": "a paid review-removal service", "pay-to-delete": "pay to delete",
                   "threat": "a threat of more posts unless paid"},
        "phi-exposure": "patient data exposed",
        "phi_lead": "A public post exposes a patient's personal data ({exposed}) next to {names} name(s). Its text "
                    "is restricted to admins; the privacy officer should request removal and report it.",
        "kinds": {},
        "sep": ", ",
        "ids": "Evidence: mention {ids}",
        "phrases": "Matched phrases: {phrases}",
        "excerpt": "Excerpt (patient data masked): {excerpt}",
    },
}


def _t(language: str) -> dict:
    return _TEXT.get(language, _TEXT["en"])


def defence_headline(facts: ExtortionFacts | PhiExposureFacts, language: str) -> str:
    return _t(language)[facts.kind]


def defence_lead(facts: ExtortionFacts | PhiExposureFacts, language: str) -> str:
    t = _t(language)
    if isinstance(facts, ExtortionFacts):
        return t["extortion_lead"].format(frame=t["frames"].get(facts.frame, safe_text(facts.frame, 30)))
    kinds = t["sep"].join(t["kinds"].get(k, k) for k in facts.exposed)
    return t["phi_lead"].format(exposed=safe_text(kinds, 80), names=facts.names)


def defence_evidence(doc: Doc, facts: ExtortionFacts | PhiExposureFacts, language: str) -> None:
    """The evidence lines under the lead."""
    t = _t(language)
    doc.p(t["ids"].format(ids=", ".join(f"#{i}" for i in facts.mention_ids)))
    if isinstance(facts, ExtortionFacts):
        quoted = t["sep"].join(f"「{safe_text(p, 60)}」" if language == "zh-TW" else f'"{safe_text(p, 60)}"'
                               for p in facts.phrases)
        doc.p(t["phrases"].format(phrases=quoted))
        doc.p(t["excerpt"].format(excerpt=safe_text(facts.excerpt, 200)))


def shown_excerpt(m: StoredMention, language: str, limit: int) -> str:
    """A mention's text as a page shows it: masked, or the restricted note for a mention
    that exposes a patient."""
    if is_restricted(m.title, m.text):
        return restricted_note(language)
    both = m.title and m.text and not m.text.startswith(m.title)
    return safe_text(f"{m.title} — {m.text}" if both else (m.text or m.title), limit)
