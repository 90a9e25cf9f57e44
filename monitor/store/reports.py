"""Aggregate reads for the weekly report (:mod:`monitor.report`): counts over a time span,
worked out by the database (``COUNT``/``SUM`` over the indexed event times), never by
loading the span's mentions. A mention counts in a span when its event time (published,
never later than detected) is in ``[start, end)``; it is *negative* when its verdict
(``sentiment_label``: the model's, a star rating's or a human's) is negative, and *scored*
when it has a verdict at all.

The weekly report is recorded, as a digest is, by a marker alert written with its
notification (:meth:`ReportsRepo.report_marker`), so a report due once goes out once.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import select

from monitor.alerting.status import AlertStatus, NoteKind
from monitor.causes import parse_causes
from monitor.store.core import StoreBase
from monitor.store.tables import AlertRow, IncidentRow, MentionEntityRow, MentionRow, NotificationRow


@dataclass(frozen=True)
class Tally:
    """Mentions in a span under one key (an entity, a source; ``""`` for all of them)."""

    key: str
    total: int
    scored: int
    negative: int


@dataclass(frozen=True)
class IncidentTimes:
    """An incident's clock: first detection, the golden-hour deadline, the ack (if any)."""

    id: int
    entity_id: str
    opened_at: datetime
    first_detected_at: datetime
    deadline: datetime
    acked_at: datetime | None
    resolved_at: datetime | None


_NEGATIVE = case((MentionRow.sentiment_label == "negative", 1), else_=0)
_SCORED = case((MentionRow.sentiment_label.is_not(None), 1), else_=0)


class ReportsRepo(StoreBase):
    def mention_tally(self, start: datetime, end: datetime) -> Tally:
        """All mentions whose event time is in ``[start, end)``."""
        with self.session() as s:
            q = (select(func.count(), func.sum(_SCORED), func.sum(_NEGATIVE))
                 .where(MentionRow.event_at >= start, MentionRow.event_at < end))
            total, scored, negative = s.exec(q).one()
            return Tally("", total or 0, scored or 0, negative or 0)

    def entity_tallies(self, start: datetime, end: datetime) -> list[Tally]:
        """Per entity (a mention about two counts for each), most negative first; entities
        without mentions in the span are absent."""
        link = MentionEntityRow
        q = (select(link.entity_id, func.count(), func.sum(_SCORED), func.sum(_NEGATIVE))
             .join(MentionRow, MentionRow.id == link.mention_id)
             .where(link.event_at >= start, link.event_at < end).group_by(link.entity_id))
        return self._tallies(q)

    def source_tallies(self, start: datetime, end: datetime) -> list[Tally]:
        """Per source, most negative first; sources without mentions in the span are absent."""
        q = (select(MentionRow.source_id, func.count(), func.sum(_SCORED), func.sum(_NEGATIVE))
             .where(MentionRow.event_at >= start, MentionRow.event_at < end).group_by(MentionRow.source_id))
        return self._tallies(q)

    def _tallies(self, q) -> list[Tally]:
        with self.session() as s:
            rows = [Tally(k, n or 0, sc or 0, neg or 0) for k, n, sc, neg in s.exec(q)]
        return sorted(rows, key=lambda t: (-t.negative, -t.total, t.key))

    def negative_causes(self, start: datetime, end: datetime) -> Counter:
        """Negative mentions per cause (:data:`monitor.causes.CAUSES`); a mention with two
        causes counts for both, one with none for none. The database groups equal cause
        lists, so this reads one row per distinct list."""
        with self.session() as s:
            q = (select(MentionRow.causes, func.count())
                 .where(MentionRow.event_at >= start, MentionRow.event_at < end,
                        MentionRow.sentiment_label == "negative", MentionRow.causes.is_not(None))
                 .group_by(MentionRow.causes))
            out: Counter = Counter()
            for causes, n in s.exec(q):
                for cause in parse_causes(causes):
                    out[cause] += n
            return out

    def negative_events(self, start: datetime, end: datetime) -> list[tuple[int, str, datetime]]:
        """(mention id, entity, event time) of each negative mention in the span, once per
        entity it is about: what a per-day chart buckets in the reader's time zone."""
        link = MentionEntityRow
        q = (select(link.mention_id, link.entity_id, link.event_at).join(MentionRow, MentionRow.id == link.mention_id)
             .where(link.event_at >= start, link.event_at < end, MentionRow.sentiment_label == "negative")
             .order_by(link.event_at))
        with self.session() as s:
            return [(m, e, t) for m, e, t in s.exec(q)]

    def incidents_opened(self, start: datetime, end: datetime) -> list[IncidentTimes]:
        """Incidents opened in ``[start, end)``, oldest first."""
        i = IncidentRow
        q = (select(i.id, i.entity_id, i.opened_at, i.first_detected_at, i.deadline, i.acked_at, i.resolved_at)
             .where(i.opened_at >= start, i.opened_at < end).order_by(i.opened_at, i.id))
        with self.session() as s:
            return [IncidentTimes(*row) for row in s.exec(q)]

    def last_report(self, route_id: str) -> NotificationRow | None:
        rows = self._select(NotificationRow, NotificationRow.route_id == route_id,
                            NotificationRow.kind == NoteKind.REPORT, order_by=NotificationRow.id.desc(), limit=1)
        return rows[0] if rows else None

    @staticmethod
    def report_marker(route_id: str, start: datetime, now: datetime) -> AlertRow:
        """The alert a weekly report is recorded by (every delivery names an alert); its
        ``window_start`` is the report's first day."""
        return AlertRow(rule_id="report", entity_id="*", fired_at=now, window_start=start,
                        labels=json.dumps({"kind": "report"}), severity="info", status=AlertStatus.NOTIFIED,
                        route_id=route_id, notified_at=now)
