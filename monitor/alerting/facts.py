"""An alert's facts, typed: what a rule measured, carried to the message that shows it.

Each kind of alert has its dataclass. They are serialised only at the table's edge
(:func:`dump_facts`, a JSON object with a ``kind`` tag beside the fields) and parsed back
strictly (:func:`parse_facts`): a missing or unknown key, or a kind that is not the
alert's, raises :class:`FactsError` instead of showing a default. Renaming a field here
therefore breaks a test, never a page. Durations are seconds (floats), as stored.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import ClassVar, Union

from monitor.defence.attack import Bomb, Cluster, CrossPost
from monitor.errors import RepwatchError


class FactsError(RepwatchError):
    """Stored facts that do not parse as their kind's dataclass."""


@dataclass(frozen=True)
class BurstFacts:
    kind: ClassVar[str] = "burst"
    count: int
    min: int
    window: float


@dataclass(frozen=True)
class SpikeFacts:
    kind: ClassVar[str] = "spike"
    count: int
    expected: float
    ratio: float | None  # None: no baseline at all
    window: float
    baseline: float


@dataclass(frozen=True)
class SevereFacts:
    kind: ClassVar[str] = "severe"
    terms: tuple[str, ...]
    score: float
    severe_score: bool  # the score alone was severe (beside any terms)


@dataclass(frozen=True)
class AttackFacts:
    """What an ``attack`` rule found in its window: each signal's evidence (mention ids,
    sources, accounts, similarity; observed vs expected low ratings). No mention text."""

    kind: ClassVar[str] = "attack"
    signals: tuple[str, ...]  # near-duplicate | rating-bomb | cross-posting, those found
    clusters: tuple[Cluster, ...]
    bomb: Bomb | None
    cross_posts: tuple[CrossPost, ...]
    window: float
    baseline: float


@dataclass(frozen=True)
class SourceHealthFacts:
    """A source-health notice: ids, states and error reasons, never mention text."""

    kind: ClassVar[str] = "source-health"
    source: str
    type: str
    state: str  # failing | blocked | auth-failed | silent | recovered
    reason: str
    failures: int
    last_success: datetime | None


@dataclass(frozen=True)
class ExtortionFacts:
    """An extortion post (:mod:`monitor.defence.extortion`): its frame, the phrases that raised
    it as written (untrusted: escaped where shown) and a masked one-line excerpt."""

    kind: ClassVar[str] = "extortion"
    frame: str  # removal-service | pay-to-delete | threat
    phrases: tuple[str, ...]
    mention_ids: tuple[int, ...]
    excerpt: str


@dataclass(frozen=True)
class PhiExposureFacts:
    """A post exposing a patient's data (:mod:`monitor.defence.phi`): the kinds of data and how
    many names beside them. Never the values, never the text."""

    kind: ClassVar[str] = "phi-exposure"
    exposed: tuple[str, ...]  # ID | phone | email | chart no. | date of birth | LINE ID
    names: int
    mention_ids: tuple[int, ...]


Facts = Union[BurstFacts, SpikeFacts, SevereFacts, SourceHealthFacts, AttackFacts, ExtortionFacts, PhiExposureFacts]
KINDS: dict[str, type] = {c.kind: c for c in (BurstFacts, SpikeFacts, SevereFacts, SourceHealthFacts, AttackFacts,
                                              ExtortionFacts, PhiExposureFacts)}


def dump_facts(facts: Facts) -> str:
    values = asdict(facts)
    if isinstance(facts, SevereFacts):
        values["terms"] = list(facts.terms)
    if isinstance(facts, SourceHealthFacts) and facts.last_success is not None:
        values["last_success"] = facts.last_success.isoformat()
    return json.dumps({"kind": facts.kind, **values}, ensure_ascii=False)


def parse_facts(text: str, kind: str | None = None) -> Facts:
    """The facts in ``text``. ``kind``: the alert's kind label, which the tag must equal;
    rows written before facts carried a tag are read as that kind."""
    try:
        values = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise FactsError(f"facts are not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise FactsError("facts are not a JSON object")
    tag = values.pop("kind", None) or kind
    if kind is not None and tag != kind:
        raise FactsError(f"facts of a {tag!r} alert on a {kind!r} alert")
    cls = KINDS.get(tag)
    if cls is None:
        raise FactsError(f"unknown kind of facts: {tag!r}")
    names = {f.name for f in fields(cls)}
    missing, unknown = sorted(names - set(values)), sorted(set(values) - names)
    if missing or unknown:
        raise FactsError(f"{tag} facts: missing {missing}, unknown {unknown}")
    if cls is SevereFacts:
        values["terms"] = tuple(values["terms"])
    if cls in (ExtortionFacts, PhiExposureFacts):
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    if cls is AttackFacts:
        values = _attack_values(values)
    if cls is SourceHealthFacts and values["last_success"] is not None:
        values["last_success"] = datetime.fromisoformat(values["last_success"])
    return cls(**values)


def _strict(cls: type, values) -> dict:
    """``values`` for ``cls``: a JSON object with exactly its fields, lists made tuples."""
    names = {f.name for f in fields(cls)}
    if not isinstance(values, dict) or set(values) != names:
        raise FactsError(f"{cls.__name__} evidence: expected {sorted(names)}, got {values!r:.200}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _attack_values(values: dict) -> dict:
    if not isinstance(values["clusters"], list) or not isinstance(values["cross_posts"], list):
        raise FactsError("attack facts: clusters and cross_posts must be lists")
    return {**values, "signals": tuple(values["signals"]),
            "clusters": tuple(Cluster(**_strict(Cluster, c)) for c in values["clusters"]),
            "bomb": None if values["bomb"] is None else Bomb(**_strict(Bomb, values["bomb"])),
            "cross_posts": tuple(CrossPost(**_strict(CrossPost, c)) for c in values["cross_posts"])}
