"""Decide when an alert fires: pure functions over stored mentions (no I/O, injected time),
and :func:`fired`, which runs each rule's window queries against the store.

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

``extortion`` and ``phi-exposure``: one mention alone, like severe, when its text offers
deletion for money or threatens more posts unless paid, or exposes a patient's data next to
a name (:mod:`monitor.alerting.defence`).

``attack``: near-duplicate texts, a rating bomb or one account on several platforms within
the window (:mod:`monitor.alerting.attack`, :mod:`monitor.defence.attack`).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Iterator

from monitor.alerting.attack import attack_findings
from monitor.alerting.defence import DEFENCE_KINDS, defence_findings, not_yet_alerted
from monitor.alerting.facts import BurstFacts, Facts, SevereFacts, SpikeFacts
from monitor.causes import CAUSES, primary_cause
from monitor.config import Config, Entity, Rule
from monitor.store import AlertRow, Store, StoredMention
from monitor.store.alerts import NewAlert
from monitor.text import CJK, fold

log = logging.getLogger("repwatch")
RULE_ORDER = {"burst": 0, "spike": 1, "severe": 2, "extortion": 2, "phi-exposure": 2, "attack": 3}


@dataclass(frozen=True)
class Decision:
    page: bool
    reason: str
    mentions: tuple[StoredMention, ...] = ()
    new: int = 0
    first: bool = True
    facts: Facts | None = None


def _dedup(rule: Rule, negatives: list[StoredMention], last: AlertRow | None, now: datetime, reason: str,
           facts: Facts) -> Decision:
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
                  BurstFacts(count=count, min=rule.min_negative, window=rule.window.total_seconds()))


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
                  SpikeFacts(count=count, expected=round(expected, 3), ratio=round(ratio, 2) if ratio else None,
                             window=rule.window.total_seconds(), baseline=rule.baseline.total_seconds()))


@lru_cache(maxsize=64)
def _term_patterns(terms: tuple[str, ...]) -> tuple[tuple[str, re.Pattern], ...]:
    out = []
    for term in terms:
        folded = re.escape(fold(term))
        pattern = folded if CJK.search(term) else rf"(?<![\w]){folded}(?![\w])"
        out.append((term, re.compile(pattern)))
    return tuple(out)


def crisis_terms(terms: tuple[str, ...], text: str) -> list[str]:
    """The configured crisis terms that occur in ``text``."""
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
    return Decision(True, "; ".join(parts), (mention,), 1, True,
                    SevereFacts(terms=tuple(terms), score=round(score, 4), severe_score=score >= rule.min_score))


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


def rule_alert(rule: Rule, entity: Entity, decision: Decision, now: datetime) -> NewAlert:
    """The alert a rule raises for an entity: it fires (for silences and inhibition) for one window."""
    return NewAlert(rule_id=rule.id, entity_id=entity.id, fired_at=now, window_start=now - rule.window,
                    labels=alert_labels(rule, entity, decision.mentions), severity=rule.severity,
                    facts=decision.facts, title=f"{rule.kind} {entity.id}: {decision.reason}",
                    mention_ids=tuple(m.id for m in decision.mentions), count=len(decision.mentions),
                    active_until=now + rule.window)


def fired(config: Config, store: Store, now: datetime) -> Iterator[tuple[Rule, Entity, Decision]]:
    """Each rule, for each entity it covers, over its window: burst and spike first, then
    severe, so an inhibiting burst is already stored when the single mentions it covers
    are seen (the caller stores each alert before asking for the next).

    A rule reads its window for all its entities at once, when its turn comes: one query
    for the window's mentions, one for its recent alerts, and for spike one COUNT per
    entity over the baseline (see :class:`monitor.store.mention_reads.MentionQueries`).
    What one entity's alert changes is never read for another entity of the same rule."""
    threshold = config.sentiment.negative_threshold
    for rule in sorted(config.rules, key=lambda r: RULE_ORDER[r.kind]):
        entities = [entity for entity in config.entities if rule.applies_to(entity.id)]
        if not entities:
            continue
        if rule.kind == "severe":
            yield from _severe(rule, entities, store, now)
        elif rule.kind in DEFENCE_KINDS:
            try:  # the extortion gate needs its encoder: one that cannot run holds back no other rule's page
                findings = list(defence_findings(rule, entities, store, now))
            except Exception:
                log.exception("rule %s (%s): its detector failed this run; the other rules go on", rule.id, rule.kind)
                continue
            for entity, found in findings:
                yield rule, entity, Decision(True, found.reason, (found.mention,), 1, True, found.facts)
        elif rule.kind == "attack":
            for entity, found in attack_findings(rule, entities, store, now, threshold):
                yield rule, entity, Decision(True, found.reason, found.mentions, found.new, found.first, found.facts)
        else:
            yield from _counted(rule, entities, store, now, threshold)


def _severe(rule: Rule, entities: list[Entity], store: Store,
            now: datetime) -> Iterator[tuple[Rule, Entity, Decision]]:
    for entity, mention in not_yet_alerted(rule, entities, store, now):
        if rule_counts(rule, mention):
            decision = evaluate_severe(rule, mention)
            if decision.page:
                yield rule, entity, decision


def _counted(rule: Rule, entities: list[Entity], store: Store, now: datetime,
             threshold: float) -> Iterator[tuple[Rule, Entity, Decision]]:
    """Burst and spike. Only an alert fired within the window can make a repeat (see
    :func:`_dedup`), so the last alert older than that is never read."""
    ids = [e.id for e in entities]
    start = now - rule.window
    window = store.window_negatives(ids, start, now, threshold)
    last = {alert.entity_id: alert for alert in store.recent_alerts(rule.id, start)}  # oldest first: the last wins
    baseline = (store.negative_counts(ids, start - rule.baseline, start, threshold, rule.causes)
                if rule.kind == "spike" else {})
    for entity in entities:
        negatives = [m for m in window.get(entity.id, ()) if rule_counts(rule, m)]
        if rule.kind == "spike":
            decision = evaluate_spike(rule, negatives, baseline.get(entity.id, 0), last.get(entity.id), now)
        else:
            decision = evaluate_burst(rule, negatives, last.get(entity.id), now)
        if decision.page:
            yield rule, entity, decision


def raise_rule_alerts(config: Config, store: Store, now: datetime) -> list[int]:
    """Store an alert for each rule that fires now (each before the next is looked for);
    their ids. The log carries ids and counts, never mention text."""
    raised = []
    for rule, entity, decision in fired(config, store, now):
        alert = store.raise_alert(rule_alert(rule, entity, decision, now))
        raised.append(alert.id)
        log.warning("alert %d: rule %s (%s, %s), entity %s, %d mentions (%s)", alert.id, rule.id, rule.kind,
                    rule.severity, entity.id, alert.count, decision.reason)
    return raised
