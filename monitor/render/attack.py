"""The evidence block of an ``attack`` page (:class:`monitor.alerting.facts.AttackFacts`):
each near-duplicate cluster with its mention ids, sources, accounts, similarity and a
masked excerpt of each member; the rating bomb's observed vs expected low ratings; each
account seen on several sources. Every account name and excerpt goes through
:func:`monitor.render.safe.safe_text` (masked for patient data, one line, defanged)."""
from __future__ import annotations

from datetime import timedelta
from typing import Sequence

from monitor.alerting.facts import AttackFacts
from monitor.defence.phi import is_restricted, restricted_note
from monitor.render.doc import Doc, Item, span
from monitor.render.safe import safe_text
from monitor.store import StoredMention

_TEXT = {
    "zh-TW": {
        "head": "疑似惡意攻擊:{signals}",
        "lead": "過去 {window}內發現疑似協同攻擊的跡象({signals}),證據如下。",
        "signals": {"near-duplicate": "多處近乎相同的內容", "rating-bomb": "低分評價暴增",
                    "cross-posting": "同一帳號跨平台發文"},
        "sep": "、",
        "cluster": "近乎相同的內容 {n} 則:提及 {ids};來源 {sources};帳號 {authors};相似度 {lo}–{mean}(最低–平均)。",
        "bomb": "{source} 的低分評價:{window}內 {observed} 則(≤ {stars} 星),其中 {new} 則來自此期間才出現的帳號;"
                "依過去 {baseline}的 {base} 則推算應約 {expected} 則(Poisson p = {p})。提及 {ids}。",
        "cross": "帳號 {author} 在 {n} 個來源發文:{sources};提及 {ids}。",
        "none": "(無)",
    },
    "en": {
        "head": "possible attack: {signals}",
        "lead": "Signs of a coordinated attack in the last {window} ({signals}); the evidence follows.",
        "signals": {"near-duplicate": "near-duplicate texts", "rating-bomb": "a burst of low ratings",
                    "cross-posting": "one account on several platforms"},
        "sep": ", ",
        "cluster": "{n} near-duplicate mentions: ids {ids}; sources {sources}; accounts {authors}; "
                   "similarity {lo}–{mean} (lowest–mean).",
        "bomb": "Low ratings on {source}: {observed} (≤ {stars}★) in {window}, {new} of them from accounts first "
                "seen in it; the {baseline} baseline ({base} low ratings) predicts {expected} (Poisson p = {p}). Ids {ids}.",
        "cross": "Account {author} posted on {n} sources: {sources}; ids {ids}.",
        "none": "(none)",
    },
}
MAX_IDS = 30  # mention ids listed per line
MAX_EXCERPTS = 5  # excerpts shown per cluster


def _t(language: str) -> dict:
    return _TEXT.get(language, _TEXT["en"])


def _names(values: Sequence[str], t: dict, limit: int = 40) -> str:
    return t["sep"].join(safe_text(v, limit) for v in values) or t["none"]


def _ids(ids: Sequence[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:MAX_IDS])
    return shown + (f" … (+{len(ids) - MAX_IDS})" if len(ids) > MAX_IDS else "")


def _excerpt(m: StoredMention, language: str) -> Item:
    who = safe_text(m.author or "-", 40)
    text = restricted_note(language) if is_restricted(m.title, m.text) else safe_text(m.text or m.title, 100)
    return Item(f"#{m.id} {who}: {text}", None, safe_text(m.source_id, 40))


def attack_headline(facts: AttackFacts, language: str) -> str:
    t = _t(language)
    return t["head"].format(signals=t["sep"].join(t["signals"][s] for s in facts.signals))


def attack_lead(facts: AttackFacts, language: str) -> str:
    t = _t(language)
    return t["lead"].format(window=span(timedelta(seconds=facts.window), language),
                            signals=t["sep"].join(t["signals"][s] for s in facts.signals))


def attack_evidence(doc: Doc, facts: AttackFacts, mentions: Sequence[StoredMention], language: str) -> None:
    """Append the evidence of ``facts`` to ``doc``; ``mentions``: the page's mentions, for excerpts."""
    t = _t(language)
    by_id = {m.id: m for m in mentions}
    for c in facts.clusters:
        doc.p(t["cluster"].format(n=len(c.mention_ids), ids=_ids(c.mention_ids), sources=_names(c.sources, t),
                                  authors=_names(c.authors, t), lo=f"{c.min_similarity:.2f}",
                                  mean=f"{c.mean_similarity:.2f}"))
        doc.items([_excerpt(by_id[i], language) for i in c.mention_ids[:MAX_EXCERPTS] if i in by_id])
    if facts.bomb:
        b = facts.bomb
        doc.p(t["bomb"].format(source=safe_text(b.source, 40), observed=b.observed, stars=f"{b.low_rating:g}",
                               new=b.new_accounts,
                               window=span(timedelta(seconds=facts.window), language),
                               baseline=span(timedelta(seconds=facts.baseline), language), base=b.baseline_count,
                               expected=f"{b.expected:.2f}", p=f"{b.p_value:.1e}", ids=_ids(b.mention_ids)))
    for x in facts.cross_posts:
        doc.p(t["cross"].format(author=safe_text(x.author, 40), n=len(x.sources), sources=_names(x.sources, t),
                                ids=_ids(x.mention_ids)))
