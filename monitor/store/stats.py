"""Counts for ``/metrics``: read at scrape time, so the figures survive restarts. None of them
grows with the mentions stored: mentions come from the per-source tallies the writes keep
(:class:`~monitor.store.tables.MentionTallyRow`), the unscored from a partial index, the rest
are aggregates over indexed columns of the alerting tables (no row is loaded)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, extract, func
from sqlmodel import Session, select

from monitor.store.core import StoreBase
from monitor.store.tables import AlertRow, DeliveryRow, IncidentRow, MentionRow, MentionTallyRow, NotificationRow


@dataclass(frozen=True)
class PageLatency:
    """Seconds from a mention's detection to its page being delivered, over every sent page
    (a negative difference counts as 0): how many within each bound, how many, their sum."""

    within: tuple[tuple[float, int], ...]  # (upper bound, pages at or under it)
    count: int
    total: float


@dataclass(frozen=True)
class Counts:
    mentions: list[tuple[str, int, int]]  # (source, stored, with a negative verdict)
    unscored: int
    alerts: list[tuple[str, str | None, int]]  # (rule, status, n)
    notifications: list[tuple[str, str, int]]  # (route, kind, n)
    deliveries: list[tuple[str, str, int]]  # (route, status, n)
    incidents: dict[str, int]  # status -> n
    golden_hour: tuple[int, int]  # incidents acknowledged by their deadline; not (late, or still not by now)
    pages: PageLatency


class StatsRepo(StoreBase):
    def counts(self, now: datetime, latency_bounds: tuple[float, ...]) -> Counts:
        """Every count ``/metrics`` shows, in one session."""
        with self.session() as s:
            def grouped(*columns) -> list[tuple]:
                return [tuple(r) for r in s.exec(select(*columns, func.count()).group_by(*columns))]

            mentions = [tuple(r) for r in s.exec(select(MentionTallyRow.source_id, MentionTallyRow.stored,
                                                        MentionTallyRow.negative).order_by(MentionTallyRow.source_id))]
            unscored = s.exec(select(func.count()).select_from(MentionRow)
                              .where(MentionRow.sentiment_label.is_(None))).one()
            return Counts(mentions, unscored, grouped(AlertRow.rule_id, AlertRow.status),
                          grouped(NotificationRow.route_id, NotificationRow.kind),
                          grouped(DeliveryRow.route_id, DeliveryRow.status),
                          dict(grouped(IncidentRow.status)), self._golden_hour(s, now),
                          self._page_latency(s, latency_bounds))

    @staticmethod
    def _golden_hour(s: Session, now: datetime) -> tuple[int, int]:
        acked, deadline = IncidentRow.acked_at, IncidentRow.deadline
        met = func.sum(case((acked.is_not(None) & (acked <= deadline), 1), else_=0))
        missed = func.sum(case((acked.is_not(None) & (acked > deadline), 1),
                               (acked.is_(None) & (deadline < now), 1), else_=0))
        row = s.exec(select(met, missed)).one()
        return row[0] or 0, row[1] or 0

    def _page_latency(self, s: Session, bounds: tuple[float, ...]) -> PageLatency:
        sent, detected = DeliveryRow.sent_at, NotificationRow.detected_at
        if self.dialect == "sqlite":  # julianday's float, to the millisecond
            seconds = func.round((func.julianday(sent) - func.julianday(detected)) * 86400.0, 3)
        else:
            seconds = extract("epoch", sent - detected)
        pages = (select(case((seconds > 0, seconds), else_=0.0).label("seconds"))
                 .select_from(DeliveryRow).join(NotificationRow, NotificationRow.id == DeliveryRow.notification_id)
                 .where(NotificationRow.kind == "page", DeliveryRow.status == "sent", detected.is_not(None))
                 .cte("pages").prefix_with("MATERIALIZED"))  # each page's seconds worked out once
        columns = [func.sum(case((pages.c.seconds <= b, 1), else_=0)) for b in bounds]
        q = select(func.count(), func.sum(pages.c.seconds), *columns).select_from(pages)
        count, total, *within = s.exec(q).one()
        return PageLatency(tuple(zip(bounds, (n or 0 for n in within))), count, float(total or 0))
