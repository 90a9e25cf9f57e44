"""Counts for ``/metrics``: read at scrape time, so the figures survive restarts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.tables import AlertRow, DeliveryRow, IncidentRow, MentionRow, NotificationRow


@dataclass(frozen=True)
class Counts:
    mentions: list[tuple[str, int, int]]  # (source, stored, negative at the threshold)
    unscored: int
    alerts: list[tuple[str, str | None, int]]  # (rule, status, n)
    notifications: list[tuple[str, str, int]]  # (route, kind, n)
    deliveries: list[tuple[str, str, int]]  # (route, status, n)
    incidents: list[IncidentRow]
    pages: list[tuple[datetime, datetime]]  # (delivered, earliest detection) of every sent page


class StatsRepo(StoreBase):
    def counts(self, negative_threshold: float) -> Counts:
        """Every count ``/metrics`` shows, in one session."""
        negative = func.sum(case((MentionRow.negative_score >= negative_threshold, 1), else_=0))
        with self.session() as s:
            def grouped(*columns) -> list[tuple]:
                return [tuple(r) for r in s.exec(select(*columns, func.count()).group_by(*columns))]

            mentions = [(src, total, n or 0) for src, total, n in
                        s.exec(select(MentionRow.source_id, func.count(), negative).group_by(MentionRow.source_id))]
            unscored = s.exec(select(func.count()).select_from(MentionRow)
                              .where(MentionRow.sentiment_label.is_(None))).one()
            pages = s.exec(select(DeliveryRow.sent_at, NotificationRow.detected_at)
                           .join(NotificationRow, NotificationRow.id == DeliveryRow.notification_id)
                           .where(NotificationRow.kind == "page", DeliveryRow.status == "sent",
                                  NotificationRow.detected_at.is_not(None)))
            return Counts(mentions, unscored, grouped(AlertRow.rule_id, AlertRow.status),
                          grouped(NotificationRow.route_id, NotificationRow.kind),
                          grouped(DeliveryRow.route_id, DeliveryRow.status),
                          list(s.exec(select(IncidentRow))), [tuple(p) for p in pages])
