"""Send what the dispatcher wrote down, and lose nothing.

Every notification and its deliveries (one per URL) are in the database before any
send (:meth:`monitor.store.alerts.AlertsRepo.write_notification`). A run here:

1. queues fallbacks: a route with ``fallback`` whose deliveries of a notification have
   not *any* of them succeeded ``fallback_after`` after it was written gets the same
   notification queued on the fallback route (the primary keeps retrying);
2. claims the due deliveries (pending, retrying when their backoff is over, or "sending"
   with a claim older than :data:`SEND_LEASE`, which means the sender died mid-send), in
   one guarded UPDATE, so two processes (the daemon and ``repwatch ack``, say) never both
   claim a delivery;
3. sends them in parallel, so one slow or failing URL never holds up another, and
   records each result (attempts, apprise's reason) at once.

After a crash: what was written but not sent is sent; what was recorded as sent is not
sent again. The one window that cannot be closed without the receiver's help is a
crash between a receiver accepting a message and the "sent" mark; that delivery is
sent again after the lease (a duplicate, never a loss).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.config import Config
from monitor.notify import Notifier, SendResult, notify_type, redact
from monitor.render import Message, channel_of
from monitor.store import AlertRow, DeliveryRow, IncidentRow, NotificationRow, Store

log = logging.getLogger("repwatch.outbox")

MAX_DELIVERY_ATTEMPTS = 8
SEND_LEASE = timedelta(minutes=2)


def delivery_backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 15 min."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 900))


@dataclass
class OutboxReport:
    sent: int = 0
    failed: int = 0
    fallbacks: int = 0


class Outbox:
    def __init__(self, config: Config, store: Store, notifier: Notifier, clock: Clock, workers: int = 8):
        self.config = config
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.workers = workers
        self.routes = config.routes_by_id

    def run(self) -> OutboxReport:
        report = OutboxReport()
        now = self.clock.now()
        self._fallbacks(now, report)
        rows = self.store.claim_deliveries(now, MAX_DELIVERY_ATTEMPTS, now - SEND_LEASE)
        if not rows:
            return report
        notes = self.store.notifications({d.notification_id for d in rows if d.notification_id is not None})
        types = self._notify_types(list(notes.values()))
        with ThreadPoolExecutor(max_workers=min(self.workers, len(rows)), thread_name_prefix="send") as pool:
            results = list(pool.map(lambda d: self._send_and_record(d, notes.get(d.notification_id), now,
                                                                    types.get(d.notification_id, "info")), rows))
        report.sent += sum(results)
        report.failed += len(results) - sum(results)
        return report

    def _notify_types(self, notes: list[NotificationRow]) -> dict[int, str]:
        """apprise's notify type of each notification (:func:`monitor.notify.notify_type`): the
        severity of its incident, else of its alert (an ops notice: a recovery is a success)."""
        incidents = {i.id: i for i in self._rows(IncidentRow, {n.incident_id for n in notes})}
        alerts = {a.id: a for a in self._rows(AlertRow, {n.alert_id for n in notes if n.incident_id is None})}
        types = {}
        for n in notes:
            incident, alert = incidents.get(n.incident_id), alerts.get(n.alert_id)
            severity = incident.severity if incident else alert.severity if alert else None
            state = alert.label_map.get("state") if alert and not incident else None
            types[n.id] = notify_type(n.kind, severity, state)
        return types

    def _rows(self, model, ids: set[int | None]) -> list:
        ids.discard(None)
        return self.store.rows(model, model.id.in_(ids)) if ids else []

    def _send_and_record(self, delivery: DeliveryRow, note: NotificationRow | None, now: datetime,
                         kind: str = "info") -> bool:
        """Send one delivery (``kind``: apprise's notify type) and record the result at once, in
        this worker: a crash in another send never leaves this one's outcome unwritten."""
        result = self._send(delivery, note, kind)
        row = self.store.finish_delivery(delivery.id, result.ok, result.error, self.clock.now(),
                                         now + delivery_backoff(delivery.attempts + 1), MAX_DELIVERY_ATTEMPTS)
        what = delivery.notification_id or delivery.alert_id
        if result.ok:
            log.info("notification %s delivered to %s", what, delivery.target)
        else:
            log.error("notification %s: delivery to %s failed (attempt %d, %s): %s", what, delivery.target,
                      row.attempts, row.status, result.error)
        return result.ok

    def _send(self, delivery: DeliveryRow, note: NotificationRow | None, kind: str = "info") -> SendResult:
        route = self.routes.get(delivery.route_id)
        if route is None or delivery.target_index >= len(route.notify):
            return SendResult(False, "route or URL no longer in the config")
        url = route.notify[delivery.target_index]
        if note is None:  # a delivery queued by repwatch 0.1: the alert carried the text
            alert = self.store.alert(delivery.alert_id) if delivery.alert_id else None
            if alert is None:
                return SendResult(False, "nothing to send: notification missing")
            return self.notifier.send(url, alert.title, alert.body)
        message = Message(note.title, note.text, note.markdown, note.html)
        fmt, body = message.for_channel(channel_of(url))
        return self.notifier.send(url, note.title, body, fmt, notify_type=kind)

    def _fallbacks(self, now: datetime, report: OutboxReport) -> None:
        for route in self.config.routes:
            if not route.fallback or route.fallback not in self.routes:
                continue
            stuck = self.store.unsent_for_fallback(route.id, now - route.fallback_after)
            by_note: dict[int, list[DeliveryRow]] = {}
            for d in stuck:
                by_note.setdefault(d.notification_id, []).append(d)
            for note_id, rows in by_note.items():
                siblings = self.store.deliveries(note_id)
                delivered = any(d.status == "sent" and d.route_id == route.id for d in siblings)
                if not delivered:
                    fb = self.routes[route.fallback]
                    targets = [(fb.id, i, redact(url)) for i, url in enumerate(fb.notify)]
                    self.store.queue_fallback(note_id, [d.id for d in rows], targets, now)
                    report.fallbacks += 1
                    log.error("notification %d: route %s has not delivered for %s; sent through fallback route %s",
                              note_id, route.id, route.fallback_after, fb.id)
                else:
                    self.store.queue_fallback(note_id, [d.id for d in rows], [], now)

