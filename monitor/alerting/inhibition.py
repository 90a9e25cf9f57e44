"""Inhibition: while an alert matching a rule's ``source`` fires, alerts matching its
``target`` with equal values of its ``equal`` labels are muted (Alertmanager's
``inhibit/``). The muted alert's mentions still join the source's incident."""
from __future__ import annotations

from typing import Mapping, Sequence

from monitor.config import Inhibit
from monitor.labels import matches_all
from monitor.store import AlertRow


def inhibitor(rules: Sequence[Inhibit], labels: Mapping[str, str], firing: Sequence[AlertRow]) -> AlertRow | None:
    """The first of ``firing`` (active alerts) that mutes an alert with ``labels``, or None."""
    targeted = [r for r in rules if matches_all(r.target, labels)]
    if not targeted:
        return None
    for candidate in firing:
        other = candidate.label_map
        for rule in targeted:
            if matches_all(rule.source, other) and all(other.get(k, "") == labels.get(k, "") for k in rule.equal):
                return candidate
    return None


def needs_firing(rules: Sequence[Inhibit], labels: Mapping[str, str]) -> bool:
    """Whether any rule targets ``labels`` (only then are the firing alerts worth reading)."""
    return any(matches_all(r.target, labels) for r in rules)
