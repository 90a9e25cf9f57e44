"""``[[rules]]`` (one model per kind) and ``[[inhibit]]``: when an alert fires and what it mutes."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from pydantic import field_validator, model_validator

from monitor.causes import CAUSES
from monitor.config.fields import Duration, Fraction, Ident, Matchers, Strings, Text, choice, number
from monitor.config.models import DEFAULT_CRISIS_TERMS, Table, known
from monitor.config.problems import checker, fail
from monitor.labels import SEVERITIES

RULE_KINDS = ("burst", "spike", "severe", "extortion", "phi-exposure", "attack")
Severity = choice(SEVERITIES, f"must be one of {', '.join(SEVERITIES)}, got {{value!r}}")


def _kind(name: str):
    return choice((name,), f"must be one of {', '.join(RULE_KINDS)}, got {{value!r}}")


Burst, Spike, Severe = _kind("burst"), _kind("spike"), _kind("severe")
Extortion, PhiExposure = _kind("extortion"), _kind("phi-exposure")
Attack = _kind("attack")
ATTACK_SIGNALS = ("near-duplicate", "rating-bomb", "cross-posting")
MinCluster, MinChars, Stars, Platforms = (number(2, 1000, integer=True), number(1, 10_000, integer=True),
                                          number(1.0, 5.0), number(2, 100, integer=True))
MinNegative, Factor = number(1, 100_000, integer=True), number(1.0, 1000.0)


class RuleModel(Table):
    """What every kind of rule has: the entities it watches and the route it pages."""

    id: Ident
    entities: Strings = ("*",)
    """entity ids, or "*" for every entity"""
    route: Text = None
    """the route paged (required unless some route selects alerts by matchers)"""
    severity: Severity = "critical"
    causes: Strings = ()
    """only mentions with one of these causes count (empty: any)"""

    @model_validator(mode="before")
    @classmethod
    def _route_required(cls, data: Any, info) -> Any:
        if isinstance(data, Mapping) and "route" not in data and not checker(info).matching_routes:
            checker(info).add(("route",), "is required")
        return data

    @field_validator("entities")
    @classmethod
    def _entities(cls, names: tuple[str, ...], info) -> tuple[str, ...]:
        return known(info, "entities", names, checker(info).entity_ids, "entity")

    @field_validator("route")
    @classmethod
    def _route(cls, route: str | None, info) -> str | None:
        c = checker(info)
        if not route and not c.matching_routes:
            fail(f"must be a non-empty string, got {route!r}")
        if route and route not in c.route_ids:
            fail(f"undefined route {route!r}")
        if route and route == c.ops_route:
            fail(f"{route!r} is the ops route (source health); crisis alerts need their own route")
        return route

    @field_validator("causes")
    @classmethod
    def _causes(cls, names: tuple[str, ...], info) -> tuple[str, ...]:
        for name in names:
            if name not in CAUSES:
                checker(info).add(("causes",), f"unknown cause {name!r} (known: {', '.join(CAUSES)})")
        return tuple(n for n in names if n in CAUSES)


class BurstRule(RuleModel):
    """A burst: at least min_negative negative mentions of an entity within window."""

    kind: Burst = "burst"
    min_negative: MinNegative = 3
    window: Duration = timedelta(hours=1)


class SpikeRule(RuleModel):
    """A spike: the negative rate in window is factor times the entity's own rate over the
    trailing baseline, and at least min_negative."""

    kind: Spike
    severity: Severity = "warning"
    min_negative: MinNegative = 3
    window: Duration = timedelta(hours=6)
    baseline: Duration = timedelta(days=14)
    factor: Factor = 3.0


class SevereRule(RuleModel):
    """One severe mention: P(negative) >= min_score, or it contains one of terms."""

    kind: Severe
    min_score: Fraction = 0.95
    terms: Strings = DEFAULT_CRISIS_TERMS
    window: Duration = timedelta(hours=1)


class ExtortionRule(RuleModel):
    """One mention that offers deletion for a fee or threatens more posts unless paid
    (:mod:`monitor.defence.extortion`); give it its own route (legal)."""

    kind: Extortion
    window: Duration = timedelta(hours=1)


class PhiExposureRule(RuleModel):
    """One public post that exposes a patient's data next to a name (:mod:`monitor.defence.phi`);
    give it the privacy officer's route."""

    kind: PhiExposure
    window: Duration = timedelta(hours=1)


class AttackRule(RuleModel):
    """Signs of a coordinated attack within window (:mod:`monitor.defence.attack`): near-duplicate
    texts across sources or accounts, a burst of low ratings far above the listing's own
    baseline, one account posting on several platforms. Give it a PR/legal route."""

    kind: Attack
    severity: Severity = "warning"
    window: Duration = timedelta(hours=24)
    baseline: Duration = timedelta(days=28)
    signals: Strings = ATTACK_SIGNALS
    """which of near-duplicate, rating-bomb, cross-posting are looked for"""
    similarity: Fraction = 0.65
    """Jaccard similarity of shingle sets (CJK bigrams, other 3-grams) at which texts are near-duplicates"""
    min_cluster: MinCluster = 3
    """accounts, or sources, a near-duplicate cluster needs"""
    min_chars: MinChars = 30
    """texts shorter than this (letters and digits) are not compared"""
    low_rating: Stars = 2.0
    min_low: MinNegative = 5
    max_p: Fraction = 1e-5
    """the Poisson tail a rating bomb must fall under (100 times lower unless mostly new accounts)"""
    new_share: Fraction = 0.5
    min_platforms: Platforms = 3
    ignore_authors: Strings = ("anonymous", "匿名", "a google user", "google 使用者", "guest", "訪客", "deleted")

    @field_validator("signals")
    @classmethod
    def _signals(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [n for n in names if n not in ATTACK_SIGNALS]
        if unknown or not names:
            fail(f"must name some of {', '.join(ATTACK_SIGNALS)}, got {list(names)!r}")
        return names

    @field_validator("baseline")
    @classmethod
    def _baseline(cls, baseline: timedelta, info) -> timedelta:
        window = info.data.get("window")
        if window is not None and baseline <= window:
            fail(f"must be longer than window ({window}), got {baseline}")
        return baseline


RULE_MODELS: dict[str, type[RuleModel]] = {"burst": BurstRule, "spike": SpikeRule, "severe": SevereRule,
                                           "extortion": ExtortionRule, "phi-exposure": PhiExposureRule,
                                           "attack": AttackRule}


def rule_model(raw: Mapping) -> type[RuleModel]:
    """The model of a raw rule by its kind; an unknown kind is checked as a burst (whose
    ``kind`` then says what is wrong)."""
    kind = raw.get("kind", "burst")
    return RULE_MODELS.get(kind, BurstRule) if isinstance(kind, str) else BurstRule


class InhibitModel(Table):
    """[[inhibit]]: while an alert matching source_matchers is active, alerts matching
    target_matchers with the same values of the equal labels are muted."""

    source_matchers: Matchers
    target_matchers: Matchers
    equal: Strings = ("entity",)


DEFAULT_INHIBIT_TABLES = ({"source_matchers": ['kind=~"burst|spike"'], "target_matchers": ['kind="severe"'],
                    "equal": ["entity"]},)  # the inhibit rules of a file with no [[inhibit]]
