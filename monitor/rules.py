"""Decide when an alert fires. Pure functions over stored mentions: no I/O, injected time.

``burst``: count an entity's negative mentions whose event time lies in (now - window,
now]. At ``min_negative`` or more the alert fires, unless the same burst already fired:
if the last alert for this (rule, entity) was within the window and every mention now
in the window was already in it, stay quiet. It fires again when the burst grows (a
mention not alerted before) or after the window has passed. The last alert is read
from the database, so a restart never repeats one.

``spike``: the same count, compared with the entity's own negative rate over the
trailing ``baseline`` (14 days by default) before the window. It fires when the count
is at least ``min_negative`` and at least ``factor`` times what the baseline rate
predicts for a window of that length; a clinic that always gets a few complaints a
day is not paged for its usual few, a quiet one is paged for an unusual cluster.

``severe``: one mention alone, detected in the window, when P(negative) is at least
``min_score`` or it contains a crisis term (醫療疏失, 提告, lawsuit ...). Terms are
folded like aliases (NFKC, case, Traditional/Simplified); Latin terms match on word
boundaries. Each mention fires once per rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from monitor.causes import CAUSES, primary_cause
from monitor.config import Entity, Rule
from monitor.store import AlertRow, StoredMention


@dataclass(frozen=True)
class Decision:
    page: bool
    reason: str
    mentions: tuple[StoredMention, ...] = ()
    new: int = 0
    first: bool = True
    facts: tuple[tuple[str, object], ...] = ()


def _dedup(rule: Rule, negatives: list[StoredMention], last: AlertRow | None, now: datetime, reason: str,
           facts: tuple = ()) -> Decision:
    ids = {m.id for m in negatives}
    if last is not None and last.fired_at > now - rule.window:
        new = ids - last.mention_id_set
        if not new:
            return Decision(False, "already alerted for this burst")
        return Decision(True, f"grew by {len(new)}: {reason}", tuple(negatives), len(new), False, facts)
    return Decision(True, reason, tuple(negatives), len(ids), True, facts)


def evaluate_burst(rule: Rule, negatives: list[StoredMention], last: AlertRow | None, now: datetime) -> Decision:
    count = len(negatives)
    if count < rule.min_negative:
        return Decision(False, f"{count} negative < {rule.min_negative}")
    return _dedup(rule, negatives, last, now, f"{count} negative >= {rule.min_negative}",
                  (("count", count), ("min", rule.min_negative), ("window", rule.window.total_seconds())))


def evaluate_spike(rule: Rule, negatives: list[StoredMention], baseline_count: int, last: AlertRow | None,
                   now: datetime) -> Decision:
    count = len(negatives)
    expected = baseline_count * (rule.window / rule.baseline)
    if count < rule.min_negative:
        return Decision(False, f"{count} negative < {rule.min_negative}")
    if count < rule.factor * expected:
        return Decision(False, f"{count} negative < {rule.factor} x expected {expected:.2f}")
    ratio = count / expected if expected else None
    reason = f"{count} negative vs {expected:.2f} expected" + (f" ({ratio:.1f}x)" if ratio else " (no baseline)")
    return _dedup(rule, negatives, last, now, reason,
                  (("count", count), ("expected", round(expected, 3)), ("ratio", round(ratio, 2) if ratio else None),
                   ("window", rule.window.total_seconds()), ("baseline", rule.baseline.total_seconds())))


@lru_cache(maxsize=64)
def _term_patterns(terms: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    from monitor.text import CJK, fold

    out = []
    for term in terms:
        folded = re.escape(fold(term))
        pattern = folded if CJK.search(term) else rf"(?<![\w]){folded}(?![\w])"
        out.append((term, re.compile(pattern)))
    return tuple(out)


def crisis_terms(terms: tuple[str, ...], text: str) -> list[str]:
    """The configured crisis terms that occur in ``text``."""
    from monitor.text import fold

    folded = fold(text)
    return [term for term, pattern in _term_patterns(terms) if pattern.search(folded)]


def evaluate_severe(rule: Rule, mention: StoredMention) -> Decision:
    from monitor.mention import join_title_text

    terms = crisis_terms(rule.terms, join_title_text(mention.title, mention.text))
    score = mention.negative_score or 0.0
    if score < rule.min_score and not terms:
        return Decision(False, "not severe")
    parts = []
    if score >= rule.min_score:
        parts.append(f"P(negative) {score:.2f} >= {rule.min_score}")
    if terms:
        parts.append("crisis terms: " + ", ".join(terms))
    return Decision(True, "; ".join(parts), (mention,), 1, True, (("terms", terms), ("score", round(score, 4)),
                                                              ("severe_score", score >= rule.min_score)))


def rule_counts(rule: Rule, mention: StoredMention) -> bool:
    """Whether a mention counts for a rule that names ``causes`` (every mention counts for
    a rule that names none)."""
    return not rule.causes or bool(set(rule.causes) & set(mention.causes))


def alert_labels(rule: Rule, entity: Entity, mentions: tuple[StoredMention, ...]) -> dict[str, str]:
    """An alert's labels. ``cause`` is the gravest cause among its mentions (see
    :data:`monitor.causes.PRIORITY`), so a route can match ``cause="legal"``; ``causes``
    lists them all, comma-separated, for ``causes=~".*billing.*"``."""
    sources = sorted({m.source_id for m in mentions})
    causes = [c for c in CAUSES if any(c in m.causes for m in mentions)]
    labels = {"rule": rule.id, "kind": rule.kind, "severity": rule.severity, "entity": entity.id,
              "entity_kind": entity.kind, "source": sources[0] if len(sources) == 1 else "",
              "cause": primary_cause(causes), "causes": ",".join(causes)}
    if rule.route:
        labels["route"] = rule.route
    return labels
