"""A notification for a route: its row and one delivery per URL of the route, handed to
the store with the state it stands for (:class:`monitor.store.alerts.Outgoing`)."""
from __future__ import annotations

import logging
from datetime import datetime

from monitor.alerting.status import NoteKind
from monitor.config import Route
from monitor.notify import redact
from monitor.render import Message
from monitor.store import NotificationRow, Store
from monitor.store.alerts import Outgoing

log = logging.getLogger("repwatch.dispatch")


def outgoing(route: Route, kind: NoteKind, msg: Message | None, now: datetime, *, alert_id: int | None = None,
             incident_id: int | None = None, detected_at: datetime | None = None, **state) -> Outgoing:
    """``state``: the other fields of :class:`Outgoing` (alerts, incident, group, opening, render, marker)."""
    note = NotificationRow(route_id=route.id, kind=kind, alert_id=alert_id, incident_id=incident_id,
                           created_at=now, language=route.language, detected_at=detected_at)
    if msg is not None:
        note.title, note.text, note.markdown, note.html = msg.title, msg.text, msg.markdown, msg.html
    targets = [(route.id, i, redact(url)) for i, url in enumerate(route.notify)]
    if not targets:
        log.error("route %s has no notify URLs: its %s notification goes nowhere", route.id, kind)
    return Outgoing(note, targets, **state)


def queue(store: Store, route: Route, kind: NoteKind, msg: Message | None, now: datetime, **fields) -> NotificationRow:
    """Write one notification (see :func:`outgoing`); the outbox sends it."""
    return store.write_notification(outgoing(route, kind, msg, now, **fields))
