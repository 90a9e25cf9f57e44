"""From alerts to notifications, in Alertmanager's vocabulary. The parts live apart:
routing (:mod:`.routing`, a pure function), silences (:mod:`.silences`), inhibition
(:mod:`.inhibition`), group timing and quiet hours (:mod:`.timing`), incidents,
escalation and acknowledgement (:mod:`.incidents`), digests (:mod:`.digest`).
:class:`Dispatcher` runs them in order, each run with an injected clock:

1. Silenced alerts whose silence has ended, and which are still active, are new again.
2. New alerts are routed (an alert no route takes is *unrouted*: ops hear about it,
   because a crisis nobody is paged for is the worst failure). On its route an alert is
   *silenced*, *inhibited* (its mentions still join the source's incident), or joins its
   *group* (the route's ``group_by`` labels). A source-health alert is not grouped: its
   ops notice goes out at once.
3. Groups are flushed: ``group_wait`` after the first alert, then at most every
   ``group_interval``; quiet hours hold a flush unless an alert in it is critical. A
   flush pages (opens an incident) or updates the group's open incident.
4. Unacknowledged incidents escalate and repeat.
5. Daily digests go out.

Every state change that belongs together is one transaction (:mod:`monitor.store.alerts`);
:mod:`monitor.outbox` sends what was written.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from monitor.alerting.digest import Digests
from monitor.alerting.incidents import Incidents, clean_name
from monitor.alerting.inhibition import inhibitor, needs_firing
from monitor.alerting.notices import KIND as HEALTH
from monitor.alerting.outgoing import queue
from monitor.alerting.routing import group_key, routes_for
from monitor.alerting.silences import SilenceError, checked_matchers, silenced_by
from monitor.alerting.status import AlertStatus, NoteKind
from monitor.alerting.timing import group_due, quiet_until
from monitor.clock import Clock, SystemClock
from monitor.config import Config, Route
from monitor.render import Message, ops_notice, unrouted_notice
from monitor.store import AlertRow, IncidentRow, NotificationRow, SilenceRow, Store
from monitor.store.alerts import alert_facts

log = logging.getLogger("repwatch.dispatch")


@dataclass
class DispatchReport:
    routed: int = 0
    silenced: int = 0
    inhibited: int = 0
    unrouted: int = 0
    held: int = 0
    notifications: list[int] = field(default_factory=list)
    notices: list[int] = field(default_factory=list)  # source-health notices among them


class Dispatcher:
    def __init__(self, config: Config, store: Store, clock: Clock | None = None):
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self.routes = config.routes_by_id
        self.incidents = Incidents(config, store, self.routes)
        self.digests = Digests(config, store)

    def run(self, flush: bool = False) -> DispatchReport:
        """One pass. ``flush``: do not wait for group_wait / group_interval (a one-shot
        ``repwatch poll`` has no later pass to wait for); quiet hours still hold."""
        now = self.clock.now()
        report = DispatchReport()
        self._unsilence(now)
        for alert in self.store.alerts_in(AlertStatus.NEW):
            self._route(alert, now, report)
        self._flush_groups(now, report, flush)
        notes, held = self.incidents.escalate_and_repeat(now)
        report.notifications += notes
        report.held += held
        report.notifications += self.digests.run(now)
        return report

    # ------------------------------------------------------------ routing

    def _unsilence(self, now: datetime) -> None:
        silenced = self.store.alerts_in(AlertStatus.SILENCED)
        active = {s.id for s in self.store.active_silences(now)} if silenced else set()
        for alert in silenced:
            if alert.silence_id in active:
                continue
            if alert.active_until is not None and alert.active_until <= now:
                continue  # it stopped firing while silenced
            self.store.unsilence(alert.id)

    def _route(self, alert: AlertRow, now: datetime, report: DispatchReport) -> None:
        labels = alert.label_map
        routes = [self.routes[alert.route_id]] if alert.route_id in self.routes else routes_for(labels,
                                                                                              self.config.routes)
        if not routes:
            self._unrouted(alert, now, report)
            return
        rows = self.store.copy_for_routes(alert, [r.id for r in routes]) if len(routes) > 1 else [alert]
        for row, route in zip(rows, routes):
            self._place(row, route, labels, now, report)

    def _unrouted(self, alert: AlertRow, now: datetime, report: DispatchReport) -> None:
        report.unrouted += 1
        log.error("alert %d (rule %s, entity %s) matched no route: nobody is paged for it", alert.id, alert.rule_id,
                  alert.entity_id)
        ops = self.routes.get(self.config.daemon.ops_route or "")
        if ops is None:
            self.store.mark_unrouted(alert.id)
            return
        msg = unrouted_notice(alert.rule_id, alert.entity_id, alert.severity or "", ops.language)
        report.notifications.append(queue(self.store, ops, NoteKind.OPS, msg, now, alert_id=alert.id,
                                          alerts=[(alert.id, {"status": AlertStatus.UNROUTED})]).id)

    def _place(self, alert: AlertRow, route: Route, labels: dict, now: datetime, report: DispatchReport) -> None:
        silence = silenced_by(self.store.active_silences(now), {**labels, "route": route.id})
        if silence is not None:
            report.silenced += 1
            log.info("alert %d silenced by silence %d until %s", alert.id, silence.id, silence.ends_at.isoformat())
            self.store.mark_silenced(alert.id, silence.id, route.id)
            return
        firing = self.store.firing(now, alert.id) if needs_firing(self.config.inhibit, labels) else []
        source = inhibitor(self.config.inhibit, labels, firing)
        if source is not None:
            report.inhibited += 1
            log.info("alert %d inhibited by alert %d", alert.id, source.id)
            self.store.inhibit(alert, route.id, source)
            return
        if labels.get("kind") == HEALTH:
            self._notice(alert, route, now, report)
            return
        key, values = group_key(route, labels)
        self.store.join_group(alert.id, route.id, key, values, now)
        report.routed += 1

    def _notice(self, alert: AlertRow, route: Route, now: datetime, report: DispatchReport) -> None:
        """A source-health alert's ops notice, written with the alert's new state."""
        msg = ops_notice(alert_facts(alert), route.language, route.timezone)
        note = queue(self.store, route, NoteKind.OPS, msg, now, alert_id=alert.id, alerts=[
            (alert.id, {"status": AlertStatus.NOTIFIED, "route_id": route.id, "notified_at": now})])
        report.notifications.append(note.id)
        report.notices.append(note.id)

    # ------------------------------------------------------------ groups

    def _flush_groups(self, now: datetime, report: DispatchReport, flush: bool = False) -> None:
        for group in self.store.pending_groups():
            route = self.routes.get(group.route_id)
            pending = self.store.group_alerts(group.id, AlertStatus.GROUPED)
            if not pending:
                self.store.settle_group(group.id)
                continue
            if route is None:  # removed from the config: its alerts wait for it to come back
                continue
            if not flush and not group_due(group, route, now):
                continue
            if not any(a.severity == "critical" for a in pending) and quiet_until(route, now):
                report.held += 1
                continue
            report.notifications.append(self.incidents.page(group, route, pending, now))

    # ------------------------------------------------------------ commands (CLI, ack links)

    def ack(self, incident_id: int, by: str, via: str = "cli") -> IncidentRow:
        return self.incidents.ack(incident_id, by, via, self.clock.now())

    def resolve(self, incident_id: int, by: str) -> IncidentRow:
        return self.incidents.resolve(incident_id, by, self.clock.now())

    def digest(self, route: Route, now: datetime) -> Message:
        return self.digests.message(route, now)

    def send_digest(self, route: Route, now: datetime) -> NotificationRow:
        return self.digests.send(route, now)

    def notify(self, route: Route, kind: NoteKind, msg: Message, *, alert_id: int | None = None) -> NotificationRow:
        """Queue a message outside the incident flow (``repwatch test-notify``, say)."""
        return queue(self.store, route, kind, msg, self.clock.now(), alert_id=alert_id)

    def silence(self, matchers: list[str], ends_at: datetime, by: str, comment: str) -> SilenceRow:
        now = self.clock.now()
        parsed = checked_matchers(matchers, ends_at, now)
        return self.store.add_silence([str(m) for m in parsed], now, ends_at, clean_name(by), (comment or "")[:500])

    def expire_silence(self, silence_id: int) -> SilenceRow:
        row = self.store.silence_row(silence_id)
        if row is None:
            raise SilenceError(f"no silence #{silence_id}")
        now = self.clock.now()
        return self.store.end_silence(silence_id, now) if row.ends_at > now else row
