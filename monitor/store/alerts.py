"""Typed repository methods for alerting: alerts, groups, incidents, silences and the
notifications they cause. Labels, facts, mention ids, paged routes and matchers are JSON
in their tables; they are serialised here and nowhere else.

Each method that changes state changes everything that belongs together in one
transaction: an alert and its group, an alert and its copies for further routes, an
inhibited alert and the incident it joins, and a notification with its deliveries, the
alerts it notifies, its incident (opened in that same transaction when it is a first
page) and its group. After a crash either all of it is there or none of it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlmodel import Session, select

from monitor.alerting.facts import Facts, dump_facts, parse_facts
from monitor.alerting.status import AlertStatus, IncidentStatus, NoteKind
from monitor.store.core import StoreBase
from monitor.store.tables import (AlertRow, DeliveryRow, GroupRow, IncidentRow, NotificationRow, SilenceRow,
                                  SourceStateRow)

_JSON_LISTS = ("mention_ids", "paged_routes")


@dataclass(frozen=True)
class NewAlert:
    rule_id: str
    entity_id: str
    fired_at: datetime
    window_start: datetime
    labels: dict[str, str]
    severity: str
    facts: Facts
    title: str = ""
    mention_ids: tuple[int, ...] = ()
    count: int = 0
    active_until: datetime | None = None


@dataclass
class Outgoing:
    """A notification to write, and the state it stands for: ``alerts`` (id -> values),
    ``incident`` and ``group`` ((id, values)); list values of ``mention_ids`` and
    ``paged_routes`` are stored as JSON. ``opening``: a new incident written with it; its
    message is then ``render(incident)``, made once the incident has its id (no writes)."""

    note: NotificationRow
    targets: Sequence[tuple[str, int, str]]  # (route id, index in its notify list, redacted URL)
    alerts: Sequence[tuple[int, dict]] = ()
    incident: tuple[int, dict] | None = None
    group: tuple[int, dict] | None = None
    opening: IncidentRow | None = None
    render: Callable[[IncidentRow], Any] | None = None
    marker: AlertRow | None = None  # an alert inserted with it (a digest's record)


def stored_values(values: dict) -> dict:
    """Field values as the tables hold them: ``mention_ids`` and ``paged_routes`` as JSON."""
    return {k: json.dumps(sorted(v) if k == "mention_ids" else list(v)) if k in _JSON_LISTS else v
            for k, v in values.items()}


def alert_facts(alert: AlertRow) -> Facts:
    """An alert's typed facts (:class:`monitor.alerting.facts.FactsError` when they do not parse)."""
    return parse_facts(alert.detail, alert.label_map.get("kind"))


def group_labels(group: GroupRow) -> dict[str, str]:
    return json.loads(group.labels or "{}")


class AlertsRepo(StoreBase):
    # ------------------------------------------------------------ alerts

    @staticmethod
    def _alert_row(new: NewAlert) -> AlertRow:
        return AlertRow(rule_id=new.rule_id, entity_id=new.entity_id, fired_at=new.fired_at,
                        window_start=new.window_start, count=new.count,
                        mention_ids=json.dumps(sorted(new.mention_ids)), title=new.title[:300],
                        labels=json.dumps(new.labels, ensure_ascii=False), severity=new.severity, status=AlertStatus.NEW,
                        active_until=new.active_until, detail=dump_facts(new.facts))

    def raise_alert(self, new: NewAlert) -> AlertRow:
        row = self._alert_row(new)
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def raise_notice(self, new: NewAlert, source_id: str, state: str | None) -> AlertRow:
        """A source-health alert, and the source's notice state (``None``: recovered), together:
        a crash never leaves a notice recorded but not raised, or raised twice."""
        row = self._alert_row(new)
        with self.session() as s:
            s.add(row)
            source = s.get(SourceStateRow, source_id)
            source.notice_state, source.notice_at = state, new.fired_at
            s.add(source)
            s.commit()
            s.refresh(row)
            return row

    def alerts_in(self, status: AlertStatus) -> list[AlertRow]:
        return self._select(AlertRow, AlertRow.status == status)

    def alert(self, alert_id: int) -> AlertRow | None:
        with self.session() as s:
            return s.get(AlertRow, alert_id)

    def unsilence(self, alert_id: int) -> None:
        """Its silence ended while it still fires: route it again."""
        self._set_alert(alert_id, {"status": AlertStatus.NEW, "silence_id": None})

    def mark_unrouted(self, alert_id: int) -> None:
        self._set_alert(alert_id, {"status": AlertStatus.UNROUTED})

    def mark_silenced(self, alert_id: int, silence_id: int, route_id: str) -> None:
        self._set_alert(alert_id, {"status": AlertStatus.SILENCED, "silence_id": silence_id, "route_id": route_id})

    def _set_alert(self, alert_id: int, values: dict) -> None:
        with self.session() as s:
            self._apply(s, AlertRow, alert_id, values)
            s.commit()

    def copy_for_routes(self, alert: AlertRow, route_ids: Sequence[str]) -> list[AlertRow]:
        """``alert`` on ``route_ids[0]`` and a copy on each further route, in one transaction:
        an alert is routed once."""
        copies = [AlertRow(**{**alert.model_dump(exclude={"id"}), "route_id": r}) for r in route_ids[1:]]
        with self.session() as s:
            self._apply(s, AlertRow, alert.id, {"route_id": route_ids[0]})
            s.add_all(copies)
            s.commit()
            for row in copies:
                s.refresh(row)
            first = s.get(AlertRow, alert.id)
        return [first, *copies]

    def inhibit(self, alert: AlertRow, route_id: str, source: AlertRow) -> None:
        """Mute ``alert`` under ``source``; its mentions join the source's incident."""
        with self.session() as s:
            self._apply(s, AlertRow, alert.id, {"status": AlertStatus.INHIBITED, "route_id": route_id,
                                                "group_id": source.group_id, "incident_id": source.incident_id})
            if source.incident_id is not None:
                inc = s.get(IncidentRow, source.incident_id)
                merged = set(inc.mention_id_list) | alert.mention_id_set
                self._apply(s, IncidentRow, inc.id, stored_values({"mention_ids": merged}))
            s.commit()

    def join_group(self, alert_id: int, route_id: str, key: str, labels: dict[str, str], now: datetime) -> GroupRow:
        """Put an alert in the (route, key) group, made on first use; the alert and the
        group's pending mark change together (a grouped alert nobody flushes is a lost page)."""
        group = self._group(route_id, key, json.dumps(labels, sort_keys=True, ensure_ascii=False), now)
        with self.session() as s:
            self._apply(s, AlertRow, alert_id, {"status": AlertStatus.GROUPED, "route_id": route_id,
                                                "group_id": group.id})
            if group.first_pending_at is None:
                self._apply(s, GroupRow, group.id, {"first_pending_at": now})
            s.commit()
        return group

    def _group(self, route_id: str, key: str, labels: str, now: datetime) -> GroupRow:
        """Safe when two writers race to make it."""
        where = (GroupRow.route_id == route_id, GroupRow.group_key == key)
        with self.session() as s:
            row = s.exec(select(GroupRow).where(*where)).first()
            if row is not None:
                return row
            row = GroupRow(route_id=route_id, group_key=key, labels=labels, created_at=now)
            s.add(row)
            try:
                s.commit()
            except Exception:
                s.rollback()
                return s.exec(select(GroupRow).where(*where)).one()
            s.refresh(row)
            return row

    def firing(self, now: datetime, besides: int) -> list[AlertRow]:
        """Alerts grouped or notified and still active at ``now``, other than ``besides``."""
        return self._select(AlertRow, AlertRow.status.in_((AlertStatus.GROUPED, AlertStatus.NOTIFIED)),
                            AlertRow.active_until > now, AlertRow.id != besides)

    # ------------------------------------------------------------ groups and incidents

    def pending_groups(self) -> list[GroupRow]:
        return self._select(GroupRow, GroupRow.first_pending_at.is_not(None))

    def group_alerts(self, group_id: int, status: AlertStatus) -> list[AlertRow]:
        return self._select(AlertRow, AlertRow.group_id == group_id, AlertRow.status == status)

    def settle_group(self, group_id: int) -> None:
        with self.session() as s:
            self._apply(s, GroupRow, group_id, {"first_pending_at": None})
            s.commit()

    def incident(self, incident_id: int) -> IncidentRow | None:
        with self.session() as s:
            return s.get(IncidentRow, incident_id)

    def paged_incidents(self) -> list[IncidentRow]:
        """Open incidents that have been paged (escalation and repeat candidates)."""
        return self._select(IncidentRow, IncidentRow.status == IncidentStatus.OPEN,
                            IncidentRow.last_notified_at.is_not(None))

    def incident_alerts(self, incident_id: int, status: AlertStatus | None = None) -> list[AlertRow]:
        where = [AlertRow.status == status] if status is not None else []
        return self._select(AlertRow, AlertRow.incident_id == incident_id, *where)

    def ack_incident(self, incident_id: int, by: str, via: str, at: datetime) -> IncidentRow:
        return self._set_incident(incident_id, {"status": IncidentStatus.ACKED, "acked_at": at, "acked_by": by,
                                                "ack_via": via, "next_escalation_at": None})

    def resolve_incident(self, incident: IncidentRow, by: str, at: datetime) -> IncidentRow:
        """Resolve, and free its group to open a new incident, in one transaction; resolving
        is also owning it (acknowledged then, by the resolver, when nobody had)."""
        values = {"status": IncidentStatus.RESOLVED, "resolved_at": at, "resolved_by": by,
                  "next_escalation_at": None}
        if incident.acked_at is None:
            values.update(acked_at=at, acked_by=by, ack_via="resolve")
        with self.session() as s:
            self._apply(s, IncidentRow, incident.id, values)
            group = s.get(GroupRow, incident.group_id) if incident.group_id is not None else None
            if group is not None and group.incident_id == incident.id:
                self._apply(s, GroupRow, group.id, {"incident_id": None})
            s.commit()
            return s.get(IncidentRow, incident.id)

    def _set_incident(self, incident_id: int, values: dict) -> IncidentRow:
        with self.session() as s:
            self._apply(s, IncidentRow, incident_id, values)
            s.commit()
            return s.get(IncidentRow, incident_id)

    # ------------------------------------------------------------ notifications

    def write_notification(self, out: Outgoing) -> NotificationRow:
        """The notification, its deliveries and the state it stands for, in one transaction."""
        note, alerts, group = out.note, list(out.alerts), out.group
        with self.session() as s:
            if out.marker is not None:
                s.add(out.marker)
                s.flush()
                note.alert_id = out.marker.id
            if out.opening is not None:
                s.add(out.opening)
                s.flush()
                note.incident_id = out.opening.id
                if out.render is not None:
                    msg = out.render(out.opening)
                    note.title, note.text, note.markdown, note.html = msg.title, msg.text, msg.markdown, msg.html
                alerts = [(ident, {**values, "incident_id": out.opening.id}) for ident, values in alerts]
                if group is not None:
                    group = (group[0], {**group[1], "incident_id": out.opening.id})
            s.add(note)
            s.flush()
            s.add_all(DeliveryRow(alert_id=note.alert_id, notification_id=note.id, route_id=route_id,
                                  target_index=index, target=target, created_at=note.created_at,
                                  next_attempt_at=note.created_at) for route_id, index, target in out.targets)
            self._state(s, alerts, out.incident, group)
            s.commit()
            s.refresh(note)
            return note

    def create_notification(self, note: NotificationRow, targets: Sequence[tuple[str, int, str]]) -> NotificationRow:
        """A notification and one pending delivery per (route, index, redacted target), alone."""
        return self.write_notification(Outgoing(note, targets))

    def _state(self, s: Session, alerts: Iterable[tuple[int, dict]], incident, group) -> None:
        for ident, values in alerts:
            self._apply(s, AlertRow, ident, values)
        if incident is not None:
            self._apply(s, IncidentRow, incident[0], stored_values(incident[1]))
        if group is not None:
            self._apply(s, GroupRow, *group)

    def notifications(self, ids: Iterable[int]) -> dict[int, NotificationRow]:
        ids = list(ids)
        if not ids:
            return {}
        return {n.id: n for n in self._select(NotificationRow, NotificationRow.id.in_(ids))}

    def last_digest(self, route_id: str) -> NotificationRow | None:
        rows = self._select(NotificationRow, NotificationRow.route_id == route_id,
                            NotificationRow.kind == NoteKind.DIGEST, order_by=NotificationRow.id.desc(), limit=1)
        return rows[0] if rows else None

    @staticmethod
    def digest_marker(route_id: str, now: datetime) -> AlertRow:
        """The alert a digest is recorded by (every delivery names an alert)."""
        return AlertRow(rule_id="digest", entity_id="*", fired_at=now, window_start=now - timedelta(days=1),
                        labels=json.dumps({"kind": "digest"}), severity="info", status=AlertStatus.NOTIFIED,
                        route_id=route_id, notified_at=now)

    # ------------------------------------------------------------ silences

    def add_silence(self, matchers: Sequence[str], starts_at: datetime, ends_at: datetime, by: str,
                    comment: str) -> SilenceRow:
        row = SilenceRow(matchers=json.dumps(list(matchers), ensure_ascii=False), starts_at=starts_at,
                         ends_at=ends_at, created_by=by, comment=comment, created_at=starts_at)
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def silence_row(self, silence_id: int) -> SilenceRow | None:
        with self.session() as s:
            return s.get(SilenceRow, silence_id)

    def end_silence(self, silence_id: int, at: datetime) -> SilenceRow:
        with self.session() as s:
            self._apply(s, SilenceRow, silence_id, {"ends_at": at})
            s.commit()
            return s.get(SilenceRow, silence_id)
