"""Retention and legal holds (issue 18): what ``[storage] retain`` purges and what it keeps.

:meth:`RetentionRepo.purge` deletes the mentions last changed before a cutoff (detected,
and edited if ever, before it), with their entity links, earlier versions, evidence links
and tombstones; then the fetches no mention or tombstone points at, and the payloads no
fetch points at that nobody has used since the cutoff. It keeps:

* every mention of an incident that is not resolved;
* every mention under an active legal hold, and every mention of an incident under one
  (:meth:`add_hold`; a released hold keeps its row as a record, and keeps nothing).

Alerts and incidents themselves are not purged (they hold ids and counts, no mention
text); the per-source counters of ``/metrics`` are totals and are not lowered. Each batch
of ``batch`` mentions is one transaction, so a purge of a year of history never holds a
lock for long, and an interrupted purge leaves whole mentions or none.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, or_, select as sa_select
from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.evidence_tables import FetchRow, HoldRow, MentionEvidenceRow, PayloadRow, TombstoneRow
from monitor.store.tables import IncidentRow, MentionEntityRow, MentionRow, MentionVersionRow

HOLD_KINDS = ("mention", "incident")


@dataclass(frozen=True)
class PurgeCounts:
    """What one purge deleted, and the old mentions it kept and why."""

    mentions: int = 0
    versions: int = 0
    fetches: int = 0
    payloads: int = 0
    kept_open: int = 0  # old mentions of an unresolved incident
    kept_held: int = 0  # old mentions under a legal hold


class RetentionRepo(StoreBase):
    """Legal holds and the retention purge (see the module docstring)."""

    def add_hold(self, kind: str, target_id: int, reason: str, by: str, at: datetime) -> HoldRow | None:
        """Hold a mention or an incident; None when it does not exist."""
        if kind not in HOLD_KINDS:
            raise ValueError(f"a hold is on a mention or an incident, not {kind!r}")
        with self.session() as s:
            if s.get(MentionRow if kind == "mention" else IncidentRow, target_id) is None:
                return None
            row = HoldRow(kind=kind, target_id=target_id, reason=reason, created_by=by, created_at=at)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def holds(self, include_released: bool = False) -> list[HoldRow]:
        where = () if include_released else (HoldRow.released_at.is_(None),)
        return self._select(HoldRow, *where)

    def release_hold(self, hold_id: int, by: str, at: datetime) -> HoldRow | None:
        """Release an active hold; None when there is no such active hold."""
        with self.session() as s:
            row = s.get(HoldRow, hold_id)
            if row is None or row.released_at is not None:
                return None
            row.released_at, row.released_by = at, by
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def retained_ids(self) -> tuple[set[int], set[int]]:
        """The mention ids kept whatever their age: (of unresolved incidents, under a hold)."""
        with self.session() as s:
            active = s.exec(select(HoldRow.kind, HoldRow.target_id).where(HoldRow.released_at.is_(None))).all()
            held_incidents = [t for k, t in active if k == "incident"]
            held = {t for k, t in active if k == "mention"}
            open_ids: set[int] = set()
            for mention_ids, status, incident_id in s.exec(
                    select(IncidentRow.mention_ids, IncidentRow.status, IncidentRow.id).where(
                        or_(IncidentRow.status != "resolved", IncidentRow.id.in_(held_incidents)))):
                ids = set(json.loads(mention_ids or "[]"))
                if incident_id in held_incidents:
                    held |= ids
                if status != "resolved":
                    open_ids |= ids
        return open_ids, held

    def purge(self, cutoff: datetime, batch: int = 2000) -> PurgeCounts:
        """Delete what was last changed before ``cutoff`` and is not kept (module docstring)."""
        open_ids, held = self.retained_ids()
        keep = open_ids | held
        mentions = versions = kept_open = kept_held = 0
        after = 0
        while True:
            with self.session() as s:
                old = s.exec(select(MentionRow.id).where(
                    MentionRow.id > after, MentionRow.detected_at < cutoff,
                    or_(MentionRow.edited_at.is_(None), MentionRow.edited_at < cutoff))
                    .order_by(MentionRow.id).limit(batch)).all()
                if not old:
                    break
                after = old[-1]
                kept_open += sum(1 for i in old if i in open_ids)
                kept_held += sum(1 for i in old if i in held and i not in open_ids)
                gone = [i for i in old if i not in keep]
                if gone:
                    versions += s.execute(delete(MentionVersionRow).where(
                        MentionVersionRow.mention_id.in_(gone))).rowcount
                    for table in (MentionEntityRow, MentionEvidenceRow, TombstoneRow):
                        s.execute(delete(table).where(table.mention_id.in_(gone)))
                    mentions += s.execute(delete(MentionRow).where(MentionRow.id.in_(gone))).rowcount
                s.commit()
        fetches, payloads = self._purge_orphans(cutoff)
        return PurgeCounts(mentions, versions, fetches, payloads, kept_open, kept_held)

    def _purge_orphans(self, cutoff: datetime) -> tuple[int, int]:
        """Fetches nothing points at (older than ``cutoff``), then payloads no fetch points at
        and not stored or touched since ``cutoff``."""
        with self.session() as s:
            linked = exists(sa_select(MentionEvidenceRow.fetch_id).where(MentionEvidenceRow.fetch_id == FetchRow.id))
            tomb = exists(sa_select(TombstoneRow.fetch_id).where(TombstoneRow.fetch_id == FetchRow.id))
            fetches = s.execute(delete(FetchRow).where(FetchRow.fetched_at < cutoff, ~linked, ~tomb)).rowcount
            used = exists(sa_select(FetchRow.id).where(FetchRow.sha256 == PayloadRow.sha256))
            payloads = s.execute(delete(PayloadRow).where(PayloadRow.stored_at < cutoff, ~used)).rowcount
            s.commit()
        return fetches, payloads
