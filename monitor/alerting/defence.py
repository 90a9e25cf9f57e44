"""The ``extortion`` and ``phi-exposure`` rules: one mention alone, like ``severe``.

Each rule reads the mentions of its entities detected in its window (scored, backfill left
out; :meth:`monitor.store.mention_reads.MentionQueries.window_detected`) and runs its
detector on each one's title and text: :func:`monitor.defence.extortion.detect_extortion`
or :func:`monitor.defence.phi.detect_phi_exposure`. The sentiment verdict does not matter
(an eraser service's offer reads as friendly). A mention pages once per rule: one already
in an alert of the rule fired within two windows is skipped, so a restart never repeats it.

The facts are the evidence listed in the page: for extortion the frame, the phrases as
written and a masked excerpt; for PHI exposure only the kinds of data and the number of
names (the text itself is restricted, see :mod:`monitor.defence.phi`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Sequence
from weakref import WeakKeyDictionary

from monitor.alerting.facts import ExtortionFacts, Facts, PhiExposureFacts
from monitor.config import Entity, Rule
from monitor.defence.extortion import detect_extortion
from monitor.defence.phi import detect_phi_exposure
from monitor.mention import join_title_text
from monitor.privacy import mask_phi
from monitor.store import Store, StoredMention
from monitor.text import one_line

DEFENCE_KINDS = ("extortion", "phi-exposure")
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class DefenceFinding:
    """What pages: the reason line (ids and kinds, no mention text), the mention, its facts."""

    reason: str
    mention: StoredMention
    facts: Facts


def _detect(kind: str, text: str):
    """The detector's answer for a text (an ``Extortion``, a ``PhiExposure`` or None)."""
    if kind == "extortion":
        return detect_extortion(text)
    if kind == "phi-exposure":
        return detect_phi_exposure(text)
    raise ValueError(f"not a defence rule kind: {kind!r}")


def _finding(kind: str, mention: StoredMention, text: str, detected) -> DefenceFinding | None:
    """What pages for the detector's answer ``detected`` on one mention, or None."""
    if detected is None:
        return None
    if kind == "extortion":
        excerpt = one_line(mask_phi(text), EXCERPT_CHARS)
        return DefenceFinding(f"extortion ({detected.frame}) in mention {mention.id}", mention,
                              ExtortionFacts(detected.frame, detected.phrases, (mention.id,), excerpt))
    return DefenceFinding(f"patient data ({', '.join(detected.exposed)}) exposed in mention {mention.id}", mention,
                          PhiExposureFacts(detected.exposed, detected.names, (mention.id,)))


# per store and rule id: the detector's answer for each (mention id, text) of its last window. A window is
# read again every processing run; only mentions new to it (or edited) cost a detection (the
# extortion gate encodes a text: some 20 ms), however many the window holds, and what left the
# window is forgotten with the next run
_ANSWERS: WeakKeyDictionary = WeakKeyDictionary()  # store -> rule id -> (mention id, text) -> answer
_ANSWERS_LOCK = threading.Lock()


def defence_findings(rule: Rule, entities: Sequence[Entity], store: Store,
                     now: datetime) -> Iterator[tuple[Entity, DefenceFinding]]:
    """Each entity's mentions in the window that the rule's detector flags and no alert of
    this rule has listed yet."""
    with _ANSWERS_LOCK:
        before = _ANSWERS.setdefault(store, {}).get(rule.id, {})
    answers: dict[tuple[int, str], object] = {}
    for entity, mention in not_yet_alerted(rule, entities, store, now):
        if rule.causes and not set(rule.causes) & set(mention.causes):
            continue
        text = join_title_text(mention.title, mention.text)
        key = (mention.id, text)
        answers[key] = before[key] if key in before else _detect(rule.kind, text)
        found = _finding(rule.kind, mention, text, answers[key])
        if found is not None:
            yield entity, found
    with _ANSWERS_LOCK:
        _ANSWERS.setdefault(store, {})[rule.id] = answers


def not_yet_alerted(rule: Rule, entities: Sequence[Entity], store: Store,
                    now: datetime) -> Iterator[tuple[Entity, StoredMention]]:
    """Each entity's mentions detected in the rule's window that no alert of this rule (in
    twice the window) has listed yet: what a per-mention rule (severe, extortion, PHI) may
    still page on."""
    seen: dict[str, set[int]] = {}
    for alert in store.recent_alerts(rule.id, now - 2 * rule.window):
        seen.setdefault(alert.entity_id, set()).update(alert.mention_id_set)
    window = store.window_detected([e.id for e in entities], now - rule.window, now)
    for entity in entities:
        alerted = seen.get(entity.id, set())
        for mention in window.get(entity.id, ()):
            if mention.id not in alerted:
                yield entity, mention
