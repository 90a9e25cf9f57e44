"""Incidents: a page opens one (deadline: ``response_window`` after the first mention in
it was detected), later flushes of its group update it. Open incidents nobody
acknowledged climb the ladder (``escalate_after`` on the route, then ``escalate_to``'s
route, and so on) and are repeated to the current tier every ``repeat_interval``.
Acknowledging (CLI or a signed link) stops both and is told to every route paged.

A page is written in one transaction with the incident it opens, its deliveries, the
alerts it notifies and its group (:meth:`monitor.store.alerts.AlertsRepo.write_notification`),
so a crash never leaves an incident nobody was paged for.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import datetime

from monitor.alerting.outgoing import queue
from monitor.alerting.status import SEVERITY_RANK, AlertStatus, IncidentStatus, NoteKind
from monitor.alerting.timing import quiet_until
from monitor.config import Config, Route
from monitor.errors import RepwatchError
from monitor.render import AlertView, Message, ack_message, incident_message
from monitor.store import AlertRow, GroupRow, IncidentRow, Store, StoredMention
from monitor.store.alerts import alert_facts, group_labels, stored_values

log = logging.getLogger("repwatch.dispatch")


class IncidentError(RepwatchError):
    """An ack or resolve that cannot be done (unknown, resolved, bad link)."""


def sign_ack(secret: str, incident_id: int, expires: datetime) -> str:
    payload = f"{incident_id}.{int(expires.timestamp())}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:18]
    return f"{payload}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def verify_ack(secret: str, token: str, now: datetime) -> int:
    """The incident id in a valid, unexpired token; IncidentError otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise IncidentError("malformed acknowledgement link")
    expected = sign_ack(secret, int(parts[0]), datetime.fromtimestamp(int(parts[1]), now.tzinfo))
    if not hmac.compare_digest(expected, token):
        raise IncidentError("invalid acknowledgement link (signature does not match)")
    if now.timestamp() > int(parts[1]):
        raise IncidentError("this acknowledgement link has expired; use `repwatch ack` instead")
    return int(parts[0])


def clean_name(name: str) -> str:
    """Who acknowledged: untrusted when it comes from a link, so keep it short and plain."""
    text = " ".join("".join(ch for ch in (name or "") if ch.isprintable()).split())[:64]
    if not text:
        raise IncidentError("a name is required (--by NAME)")
    return text


def worst_first(mentions: list[StoredMention]) -> list[StoredMention]:
    return sorted(mentions, key=lambda m: -(m.negative_score or 0))


def alert_view(alert: AlertRow) -> AlertView:
    return AlertView(alert_facts(alert))


class Incidents:
    def __init__(self, config: Config, store: Store, routes: dict[str, Route]):
        self.config = config
        self.store = store
        self.routes = routes

    def entity_name(self, entity_id: str) -> str:
        return next((e.name for e in self.config.entities if e.id == entity_id), entity_id)  # removed since: its id

    def ack_url(self, incident_id: int, now: datetime) -> str | None:
        inc = self.config.incidents
        if not inc.public_url or not inc.ack_secret:
            return None
        return f"{inc.public_url}/ack/{sign_ack(inc.ack_secret, incident_id, now + inc.link_ttl)}"

    def message(self, kind: NoteKind, incident: IncidentRow, alerts: list[AlertRow], mentions, route: Route,
                now: datetime, severity: str, escalated_from: Route | None = None) -> Message:
        return incident_message(
            kind, incident.id, severity, self.entity_name(incident.entity_id), [alert_view(a) for a in alerts],
            mentions, incident.deadline, now, route.language, route.timezone,
            ack_url=self.ack_url(incident.id, now), escalated_to=route.id,
            escalate_after=escalated_from.escalate_after if escalated_from else None)

    # ------------------------------------------------------------ page

    def page(self, group: GroupRow, route: Route, pending: list[AlertRow], now: datetime) -> int:
        """Page (or update) the group's incident with its pending alerts; the notification id."""
        incident = self.store.incident(group.incident_id) if group.incident_id else None
        if incident is not None and incident.status == IncidentStatus.RESOLVED:
            incident = None
        muted = self.store.group_alerts(group.id, AlertStatus.INHIBITED)
        new_ids = set().union(*(a.mention_id_set for a in pending + muted))
        mentions = self.store.get_mentions(new_ids)
        severity = max((a.severity or "warning" for a in pending), key=lambda s: SEVERITY_RANK.get(s, 0))
        opening = incident is None
        if opening:  # written with its page, in one transaction
            incident = self._new_incident(group, route, pending, mentions, severity, now)
        kind = NoteKind.PAGE if incident.last_notified_at is None else NoteKind.UPDATE
        if SEVERITY_RANK.get(incident.severity, 0) > SEVERITY_RANK.get(severity, 0):
            severity = incident.severity
        values = {"mention_ids": set(incident.mention_id_list) | new_ids, "last_notified_at": now,
                  "severity": severity}
        if kind == NoteKind.PAGE:
            values.update(paged_routes=[route.id], tier_route=route.id,
                          next_escalation_at=now + route.escalate_after if route.escalate_to else None)
        shown = worst_first(mentions) or self.incident_mentions(incident)

        def render(inc: IncidentRow) -> Message:
            return self.message(kind, inc, pending, shown, route, now, severity)

        if opening:
            for k, v in stored_values(values).items():
                setattr(incident, k, v)
        note = queue(
            self.store, route, kind, None if opening else render(incident), now, alert_id=pending[0].id,
            incident_id=incident.id, detected_at=min((m.detected_at for m in mentions), default=None),
            alerts=[(a.id, {"status": AlertStatus.NOTIFIED, "incident_id": incident.id, "notified_at": now})
                    for a in pending] + [(a.id, {"incident_id": incident.id}) for a in muted],
            incident=None if opening else (incident.id, values),
            group=(group.id, {"first_pending_at": None, "last_notified_at": now}),
            opening=incident if opening else None, render=render if opening else None)
        log.warning("incident %d: %s to route %s (%d alerts, %d mentions, deadline %s)", note.incident_id, kind,
                    route.id, len(pending), len(new_ids), incident.deadline.isoformat())
        return note.id

    def _new_incident(self, group: GroupRow, route: Route, pending: list[AlertRow], mentions, severity: str,
                      now: datetime) -> IncidentRow:
        first = min((m.detected_at for m in mentions), default=now)
        return IncidentRow(
            route_id=route.id, group_id=group.id, entity_id=group_labels(group).get("entity", pending[0].entity_id),
            labels=group.labels, severity=severity, opened_at=now, first_detected_at=first,
            deadline=first + self.config.incidents.response_window, tier_route=route.id,
            summary=", ".join(sorted({a.rule_id for a in pending})))

    def incident_mentions(self, incident: IncidentRow) -> list[StoredMention]:
        return worst_first(self.store.get_mentions(incident.mention_id_list))

    # ------------------------------------------------------------ escalation and repeats

    def escalate_and_repeat(self, now: datetime) -> tuple[list[int], int]:
        """(notification ids, how many quiet hours held) for the paged, unacknowledged incidents."""
        notes, held = [], 0
        for inc in self.store.paged_incidents():
            tier = self.routes.get(inc.tier_route) or self.routes.get(inc.route_id)
            base = self.routes.get(inc.route_id)
            if tier is None or base is None:
                continue
            critical = inc.severity == "critical"
            if inc.next_escalation_at is not None and now >= inc.next_escalation_at and tier.escalate_to in self.routes:
                nxt = self.routes[tier.escalate_to]
                if not critical and quiet_until(nxt, now):
                    held += 1
                else:
                    notes.append(self._escalate(inc, tier, nxt, now))
            elif now >= inc.last_notified_at + base.repeat_interval:
                if not critical and quiet_until(tier, now):
                    held += 1
                else:
                    notes.append(self._repeat(inc, tier, now))
        return notes, held

    def _escalate(self, inc: IncidentRow, tier: Route, nxt: Route, now: datetime) -> int:
        alerts = self.store.incident_alerts(inc.id, AlertStatus.NOTIFIED)
        msg = self.message(NoteKind.ESCALATION, inc, alerts, self.incident_mentions(inc), nxt, now, inc.severity,
                           escalated_from=tier)
        values = {"tier": inc.tier + 1, "tier_route": nxt.id, "paged_routes": inc.routes_paged + [nxt.id],
                  "last_notified_at": now, "next_escalation_at": now + nxt.escalate_after if nxt.escalate_to else None}
        note = queue(self.store, nxt, NoteKind.ESCALATION, msg, now, alert_id=alerts[0].id if alerts else None,
                     incident_id=inc.id, incident=(inc.id, values))
        log.warning("incident %d not acknowledged: escalated to %s (tier %d)", inc.id, nxt.id, inc.tier + 1)
        return note.id

    def _repeat(self, inc: IncidentRow, tier: Route, now: datetime) -> int:
        alerts = self.store.incident_alerts(inc.id, AlertStatus.NOTIFIED)
        msg = self.message(NoteKind.REPEAT, inc, alerts, self.incident_mentions(inc), tier, now, inc.severity)
        return queue(self.store, tier, NoteKind.REPEAT, msg, now, alert_id=alerts[0].id if alerts else None,
                     incident_id=inc.id, incident=(inc.id, {"last_notified_at": now})).id

    # ------------------------------------------------------------ acknowledgement

    def _incident(self, incident_id: int) -> IncidentRow:
        inc = self.store.incident(incident_id)
        if inc is None:
            raise IncidentError(f"no incident #{incident_id}")
        return inc

    def ack(self, incident_id: int, by: str, via: str, now: datetime) -> IncidentRow:
        who = clean_name(by)
        inc = self._incident(incident_id)
        if inc.status == IncidentStatus.RESOLVED:
            raise IncidentError(f"incident #{incident_id} is already resolved")
        if inc.status == IncidentStatus.ACKED:
            return inc
        inc = self.store.ack_incident(incident_id, who, via, now)
        log.warning("incident %d acknowledged by %s via %s", incident_id, who, via)
        name = self.entity_name(inc.entity_id)
        alerts = self.store.incident_alerts(inc.id)
        for route_id in inc.routes_paged:
            route = self.routes.get(route_id)
            if route is None:
                continue
            msg = ack_message(inc.id, name, who, via, now, inc.first_detected_at, inc.deadline, route.language,
                              route.timezone)
            queue(self.store, route, NoteKind.ACK, msg, now, alert_id=alerts[0].id if alerts else None,
                  incident_id=inc.id)
        return inc

    def resolve(self, incident_id: int, by: str, now: datetime) -> IncidentRow:
        who = clean_name(by)
        inc = self._incident(incident_id)
        if inc.status == IncidentStatus.RESOLVED:
            return inc
        inc = self.store.resolve_incident(inc, who, now)
        log.warning("incident %d resolved by %s", incident_id, who)
        return inc
