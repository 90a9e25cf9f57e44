"""Alerts, groups, incidents and silences: the queries the dispatcher and the CLI read."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.tables import AlertRow, GroupRow, IncidentRow, SilenceRow


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

    def alerted_mentions(self, rule_id: str, entity_id: str, since: datetime) -> set[int]:
        """Mention ids already in an alert of this rule and entity fired after ``since``."""
        ids: set[int] = set()
        for a in self._select(AlertRow, AlertRow.rule_id == rule_id, AlertRow.entity_id == entity_id,
                           AlertRow.fired_at > since):
            ids |= a.mention_id_set
        return ids


    def alerts(self, limit: int = 100) -> list[AlertRow]:
        with self.session() as s:
            return list(s.exec(select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)))

    def group(self, route_id: str, key: str, labels: str, now: datetime) -> GroupRow:
        """The group for (route, key), made on first use; safe when two writers race."""
        with self.session() as s:
            row = s.exec(select(GroupRow).where(GroupRow.route_id == route_id, GroupRow.group_key == key)).first()
            if row is not None:
                return row
            row = GroupRow(route_id=route_id, group_key=key, labels=labels, created_at=now)
            s.add(row)
            try:
                s.commit()
            except Exception:
                s.rollback()
                return s.exec(select(GroupRow).where(GroupRow.route_id == route_id,
                                                     GroupRow.group_key == key)).one()
            s.refresh(row)
            return row


    def incidents(self, open_only: bool = False, limit: int | None = None) -> list[IncidentRow]:
        where = [IncidentRow.status != "resolved"] if open_only else []
        order = IncidentRow.id.desc() if limit else IncidentRow.id
        return self._select(IncidentRow, *where, order_by=order, limit=limit)

    def active_silences(self, now: datetime) -> list[SilenceRow]:
        return self._select(SilenceRow, SilenceRow.starts_at <= now, SilenceRow.ends_at > now)

