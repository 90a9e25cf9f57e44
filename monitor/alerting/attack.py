"""The ``attack`` rule: for each entity it covers, the signals of
:mod:`monitor.defence.attack` over the window (event time in (now - window, now], backfill
left out), as one alert whose facts (:class:`monitor.alerting.facts.AttackFacts`) list the
evidence of every signal found.

An attack pages once: while every mention in its evidence was already in an alert of this
rule fired within the window, it stays quiet; a mention not alerted before (the campaign
grows) pages an update. The rule reads its window for all its entities at once
(:class:`monitor.store.attack.AttackQueries`): one query for the window's mentions, one for
the rule's recent alerts, and for the rating bomb and cross-posting one COUNT of low ratings
per source over the baseline and one look-up of the window's accounts in it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Mapping, Sequence

from monitor.alerting.facts import AttackFacts
from monitor.config import Entity, Rule
from monitor.defence.attack import Post, account, cross_posters, near_duplicates, rating_bomb
from monitor.mention import join_title_text
from monitor.store import Store, StoredMention


@dataclass(frozen=True)
class AttackFinding:
    """What pages: the reason line, the evidence's mentions, how many were not alerted
    before, and whether this is the attack's first alert."""

    reason: str
    mentions: tuple[StoredMention, ...]
    new: int
    first: bool
    facts: AttackFacts


def post_of(rule: Rule, m: StoredMention, threshold: float) -> Post:
    """A mention as the detector reads it: negative is a low rating, or without one a
    negative verdict."""
    negative = m.rating <= rule.low_rating if m.rating is not None else (m.negative_score or 0.0) >= threshold
    return Post(m.id, m.source_id, m.author, join_title_text(m.title, m.text), m.rating, negative)


def evaluate_attack(rule: Rule, mentions: Sequence[StoredMention], baseline_low: Mapping[str, int], known: set[str],
                    threshold: float) -> AttackFacts | None:
    """The evidence of each signal ``rule`` looks for in one entity's window; None when no
    signal is found. ``baseline_low``: low ratings per source during the baseline before the window;
    ``known``: the accounts seen on the entity then."""
    posts = [post_of(rule, m, threshold) for m in mentions]
    ignore = frozenset(filter(None, (account(a, frozenset()) for a in rule.ignore_authors)))
    clusters = (near_duplicates(posts, rule.similarity, rule.min_cluster, rule.min_chars, ignore)
                if "near-duplicate" in rule.signals else [])
    bomb = (rating_bomb(posts, rule.low_rating, baseline_low, rule.window / rule.baseline, known, rule.min_low,
                        rule.max_p, rule.new_share, ignore) if "rating-bomb" in rule.signals else None)
    crossed = cross_posters(posts, rule.min_platforms, ignore, known) if "cross-posting" in rule.signals else []
    signals = tuple(name for name, found in (("near-duplicate", clusters), ("rating-bomb", bomb),
                                             ("cross-posting", crossed)) if found)
    if not signals:
        return None
    return AttackFacts(signals=signals, clusters=tuple(clusters), bomb=bomb, cross_posts=tuple(crossed),
                       window=rule.window.total_seconds(), baseline=rule.baseline.total_seconds())


def evidence_ids(facts: AttackFacts) -> set[int]:
    ids = {i for c in facts.clusters for i in c.mention_ids} | {i for c in facts.cross_posts for i in c.mention_ids}
    return ids | set(facts.bomb.mention_ids if facts.bomb else ())


def reason(facts: AttackFacts) -> str:
    """One line, ids and counts only (it is logged and becomes the alert's title)."""
    parts = [f"near-duplicates: {len(c.mention_ids)} mentions on {len(c.sources)} sources "
             f"(similarity >= {c.min_similarity:.2f})" for c in facts.clusters]
    if facts.bomb:
        b = facts.bomb
        parts.append(f"rating bomb: {b.observed} low ratings vs {b.expected:.2f} expected "
                     f"(p {b.p_value:.1e}, {b.new_accounts} new accounts)")
    parts += [f"one account on {len(c.sources)} sources" for c in facts.cross_posts]
    return "; ".join(parts)


def history_needed(rule: Rule, window: Mapping[str, Sequence[StoredMention]],
                   threshold: float) -> tuple[set[str], dict[str, set[str]]]:
    """Which entities' baselines the window can need, and whose accounts: a rating bomb needs
    ``min_low`` low ratings on one source in the window, a cross-poster negative posts on
    ``min_platforms`` sources; without them the history cannot change the verdict, so an idle
    run reads none of it (at 1,000,000 stored mentions the baseline read cost 670 ms a run)."""
    bombs: set[str] = set()
    authors: dict[str, set[str]] = {}
    ignore = frozenset(filter(None, (account(a, frozenset()) for a in rule.ignore_authors)))
    for entity_id, mentions in window.items():
        low: dict[str, list[StoredMention]] = {}
        negative: dict[str, list[StoredMention]] = {}  # by account, as cross_posters groups them
        for m in mentions:
            if m.rating is not None and m.rating <= rule.low_rating:
                low.setdefault(m.source_id, []).append(m)
            handle = account(m.author, ignore)
            if handle is not None and post_of(rule, m, threshold).negative:
                negative.setdefault(handle, []).append(m)
        names: set[str] = set()
        if "rating-bomb" in rule.signals:
            crowded = [ms for ms in low.values() if len(ms) >= rule.min_low]
            if crowded:
                bombs.add(entity_id)
                names.update(m.author for ms in crowded for m in ms if m.author)
        if "cross-posting" in rule.signals:
            names.update(m.author for ms in negative.values() if len({m.source_id for m in ms}) >= rule.min_platforms
                         for m in ms)
        if names:
            authors[entity_id] = names
    return bombs, authors


def attack_findings(rule: Rule, entities: Sequence[Entity], store: Store, now: datetime,
                    threshold: float) -> Iterator[tuple[Entity, AttackFinding]]:
    """Each entity of ``rule`` with an attack in the window not yet paged in full."""
    ids = [e.id for e in entities]
    start = now - rule.window
    window = store.window_mentions(ids, start, now)
    alerted: dict[str, set[int]] = {}
    for alert in store.recent_alerts(rule.id, start):
        alerted.setdefault(alert.entity_id, set()).update(alert.mention_id_set)
    baseline_low: dict[str, dict[str, int]] = {}
    known: dict[str, set[str]] = {}
    bombs, authors = history_needed(rule, window, threshold)
    since = start - rule.baseline
    if bombs:
        baseline_low = store.low_rating_counts(sorted(bombs), since, start, rule.low_rating)
    if authors:
        known = store.known_authors(sorted(authors), since, start,
                                    sorted({a for names in authors.values() for a in names}))
    for entity in entities:
        mentions = window.get(entity.id, [])
        facts = evaluate_attack(rule, mentions, baseline_low.get(entity.id, {}), known.get(entity.id, set()),
                                threshold) if mentions else None
        if facts is None:
            continue
        evidence = evidence_ids(facts)
        before = alerted.get(entity.id, set())
        new = evidence - before
        if not new:
            continue
        shown = tuple(m for m in mentions if m.id in evidence)
        why = reason(facts)
        yield entity, AttackFinding(why if not before else f"grew by {len(new)}: {why}", shown, len(new),
                                    not before, facts)
