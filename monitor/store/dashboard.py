"""What the dashboard reads (:mod:`monitor.web`): each query reads only what its page shows.

* :meth:`DashboardReads.negative_totals` and :meth:`DashboardReads.negative_by_hour`: per
  entity, negative mentions in a window (and its recent part), and per UTC hour: COUNTs
  grouped by entity (and hour), read from the index (entity_id, event_at, negative_score)
  alone, so their cost follows the window, not the history.
* :meth:`DashboardReads.mention_page`: one page of the mention list, newest first, keyset
  paginated on (event_at, id) (never OFFSET): with an entity it walks the index
  (entity_id, event_at), else the index on event_at (or (sentiment_label, event_at) for a
  label), and stops after ``limit`` rows that pass the other filters.
* :meth:`DashboardReads.incident_timeline`: one incident's alerts, notifications and
  their deliveries, through the incident_id and notification_id indexes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, case, func, or_
from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.mention_reads import _VIEW, MentionQueries
from monitor.store.mentions import StoredMention
from monitor.store.tables import AlertRow, DeliveryRow, MentionEntityRow, MentionRow, NotificationRow


@dataclass(frozen=True)
class MentionFilter:
    """The mention list's filters; None or empty: any."""

    entity: str | None = None
    source: str | None = None
    label: str | None = None  # negative | neutral | positive
    cause: str | None = None
    min_rating: float | None = None
    max_rating: float | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Timeline:
    alerts: list[AlertRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    deliveries: list[DeliveryRow] = field(default_factory=list)


class DashboardReads(StoreBase):
    def _hour(self, column):
        """A UTC hour bucket as text 'YYYY-MM-DD HH' (SQLite keeps UTC text; PostgreSQL a timestamptz)."""
        if self.dialect == "sqlite":
            return func.substr(column, 1, 13)
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")

    def negative_by_hour(self, entity_ids: Sequence[str], since: datetime, until: datetime,
                         threshold: float) -> dict[str, dict[str, int]]:
        """Per entity: {'YYYY-MM-DD HH' (UTC): negative mentions with event time in (since, until]}."""
        link = MentionEntityRow
        hour = self._hour(link.event_at).label("hour")
        q = (select(link.entity_id, hour, func.count()).select_from(link)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(link.negative_score >= threshold).group_by(link.entity_id, hour))
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for entity_id, bucket, n in conn.execute(q):
                out.setdefault(entity_id, {})[bucket] = n
        return out

    def negative_totals(self, entity_ids: Sequence[str], since: datetime, recent: datetime, until: datetime,
                        threshold: float) -> dict[str, tuple[int, int]]:
        """Per entity: (negative mentions with event time in [recent, until], in (since, until]);
        one COUNT grouped by entity from the same index. Entities with none are absent."""
        link = MentionEntityRow
        q = (select(link.entity_id, func.sum(case((link.event_at >= recent, 1), else_=0)), func.count())
             .select_from(link)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(link.negative_score >= threshold).group_by(link.entity_id))
        with self.engine.connect() as conn:
            return {entity_id: (int(week or 0), n) for entity_id, week, n in conn.execute(q)}

    def mention_page(self, f: MentionFilter, limit: int = 50,
                     after: tuple[datetime, int] | None = None) -> list[StoredMention]:
        """Up to ``limit`` mentions matching ``f``, newest first, older than the keyset ``after``
        ((event_at, id) of the last row of the previous page); each with all its entities."""
        link = MentionEntityRow
        if f.entity:
            at, ident = link.event_at, link.mention_id
            q = (select(*_VIEW).select_from(link).join(MentionRow, MentionRow.id == link.mention_id)
                 .where(link.entity_id == f.entity))
        else:
            at, ident = MentionRow.event_at, MentionRow.id
            q = select(*_VIEW)
        q = q.where(*self._conditions(f, at))
        if after is not None:
            q = q.where(or_(at < after[0], and_(at == after[0], ident < after[1])))
        q = q.order_by(at.desc(), ident.desc()).limit(limit)
        with self.session() as s:
            rows = list(s.execute(q))
            entities: dict[int, list[str]] = {}
            if rows:
                lq = select(link.mention_id, link.entity_id).where(link.mention_id.in_([r.id for r in rows]))
                for mention_id, entity_id in s.execute(lq):
                    entities.setdefault(mention_id, []).append(entity_id)
        return [MentionQueries._view(r, tuple(sorted(entities.get(r.id, ())))) for r in rows]

    @staticmethod
    def _conditions(f: MentionFilter, at) -> list:
        m = MentionRow
        where = []
        if f.since is not None:
            where.append(at > f.since)
        if f.until is not None:
            where.append(at <= f.until)
        if f.source:
            where.append(m.source_id == f.source)
        if f.label:
            where.append(m.sentiment_label == f.label)
        if f.cause:  # cause names are distinct words, none inside another
            where.append(m.causes.like(f"%{f.cause}%"))
        if f.min_rating is not None:
            where.append(m.rating >= f.min_rating)
        if f.max_rating is not None:
            where.append(m.rating <= f.max_rating)
        return where

    def incident_timeline(self, incident_id: int) -> Timeline:
        with self.session() as s:
            alerts = list(s.exec(select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.id)))
            notes = list(s.exec(select(NotificationRow).where(NotificationRow.incident_id == incident_id)
                                .order_by(NotificationRow.id)))
            deliveries = list(s.exec(select(DeliveryRow).where(
                DeliveryRow.notification_id.in_([n.id for n in notes])).order_by(DeliveryRow.id))) if notes else []
        return Timeline(alerts, notes, deliveries)
