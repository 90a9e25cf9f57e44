"""Alerts, groups, incidents and silences: the queries the dispatcher and the CLI read."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.tables import AlertRow, IncidentRow, SilenceRow


class IncidentsRepo(StoreBase):
    def last_alert(self, rule_id: str, entity_id: str) -> AlertRow | None:
        with self.session() as s:
            q = (
                select(AlertRow)
                .where(AlertRow.rule_id == rule_id, AlertRow.entity_id == entity_id)
                .order_by(AlertRow.fired_at.desc(), AlertRow.id.desc())
                .limit(1)
            )
            return s.exec(q).first()

    def recent_alerts(self, rule_id: str, since: datetime) -> list[AlertRow]:
        """The alerts of one rule fired after ``since``, oldest first (index (rule_id, fired_at)):
        what the rules need of their alerts, for every entity in one query."""
        with self.session() as s:
            q = (select(AlertRow).where(AlertRow.rule_id == rule_id, AlertRow.fired_at > since)
                 .order_by(AlertRow.fired_at, AlertRow.id))
            return list(s.exec(q))

    def alerts(self, limit: int = 100) -> list[AlertRow]:
        with self.session() as s:
            return list(s.exec(select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)))

    def incidents(self, open_only: bool = False, limit: int | None = None) -> list[IncidentRow]:
        where = [IncidentRow.status != "resolved"] if open_only else []
        order = IncidentRow.id.desc() if limit else IncidentRow.id
        return self._select(IncidentRow, *where, order_by=order, limit=limit)

    def active_silences(self, now: datetime) -> list[SilenceRow]:
        return self._select(SilenceRow, SilenceRow.starts_at <= now, SilenceRow.ends_at > now)

    def silences(self) -> list[SilenceRow]:
        """Every silence, expired ones too, oldest first."""
        return self._select(SilenceRow, order_by=SilenceRow.id)
