"""Decide when to page. Pure functions over stored mentions: no I/O, injected time.

Negative burst: for each rule and each entity it covers, count negative mentions
whose event time lies in (now - window, now]. At ``min_negative`` or more, page -
unless the same burst was already paged: if the last page for this (rule, entity)
was within the window and every mention now in the window was already in it, stay
quiet. A page goes out again when the burst grows (a mention not paged before) or
after the window has passed. The last page is read from the database, so a restart
never repeats one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.config import Rule
from monitor.storage import AlertRow, StoredMention


@dataclass(frozen=True)
class Decision:
    page: bool
    reason: str
    mentions: tuple[StoredMention, ...] = ()
    new: int = 0
    first: bool = True


def evaluate_burst(rule: Rule, negatives: list[StoredMention], last: AlertRow | None, now: datetime) -> Decision:
    count = len(negatives)
    if count < rule.min_negative:
        return Decision(False, f"{count} negative < {rule.min_negative}")
    ids = {m.id for m in negatives}
    if last is not None and last.fired_at > now - rule.window:
        new = ids - last.mention_id_set
        if not new:
            return Decision(False, "already paged for this burst")
        return Decision(True, f"burst grew by {len(new)}", tuple(negatives), len(new), first=False)
    return Decision(True, f"{count} negative >= {rule.min_negative}", tuple(negatives), count, first=True)
