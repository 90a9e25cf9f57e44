"""Sending the weekly report at each route's ``report_at`` (weekday and local time).

The daemon's scheduler calls :meth:`WeeklyReports.run` every :data:`CHECK_EVERY`; a report
that is due is written to the outbox as a ``report`` notification with one delivery per
URL of the route (:func:`monitor.alerting.outgoing.queue`: written down before it is sent,
retried, with the route's fallback, exactly like a page) and recorded by a marker alert in
the same transaction, so it goes out once. The report covers the seven local days before
the day it is due. One more than :data:`REPORT_GRACE` late (the daemon was down) is
skipped until the next week, not sent at a strange hour. Processes sharing the database
take the ``report`` lease first, so two daemons never both queue it.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.alerting.outgoing import queue
from monitor.alerting.status import NoteKind
from monitor.clock import Clock
from monitor.config import Config, Route
from monitor.report.facts import WeeklyReport, gather
from monitor.report.html import report_message
from monitor.report.text import strings
from monitor.store import Lease, NotificationRow, Store

log = logging.getLogger("repwatch.report")

CHECK_EVERY = timedelta(minutes=1)
REPORT_GRACE = timedelta(hours=12)
REPORT_LEASE = "report"
REPORT_LEASE_TTL = timedelta(minutes=2)


def last_due(route: Route, now: datetime) -> datetime | None:
    """The latest ``report_at`` time at or before ``now`` (aware, the route's zone)."""
    if route.report_at is None:
        return None
    wd, hour, minute = route.report_at
    local = now.astimezone(ZoneInfo(route.timezone))
    day = local.date() - timedelta(days=(local.weekday() - wd) % 7)
    due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=local.tzinfo)
    return due - timedelta(days=7) if due > local else due


def report_due(route: Route, last_sent: datetime | None, now: datetime) -> date | None:
    """The local day whose week is due on ``route`` and not yet sent (None: nothing due)."""
    due = last_due(route, now)
    if due is None or (last_sent is not None and last_sent >= due) or now - due > REPORT_GRACE:
        return None
    return due.date()


def build(config: Config, store: Store, route: Route, end_day: date, now: datetime) -> WeeklyReport:
    return gather(config, store, route, end_day, now, total_name=strings(route.language)["all"])


def send_report(store: Store, route: Route, report: WeeklyReport, now: datetime) -> NotificationRow:
    """Queue ``report`` on ``route`` with its marker; the outbox sends it."""
    return queue(store, route, NoteKind.REPORT, report_message(report), now,
                 marker=store.report_marker(route.id, report.start, now))


class WeeklyReports:
    def __init__(self, config: Config, store: Store, clock: Clock):
        self.config, self.store, self.clock = config, store, clock
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def run(self) -> list[int]:
        """Queue every report that is due; return the notification ids."""
        if not any(r.report_at for r in self.config.routes):
            return []
        with Lease(self.store, REPORT_LEASE, self.holder, self.clock, REPORT_LEASE_TTL) as held:
            if not held:
                return []
            out = []
            for route in self.config.routes:
                now = self.clock.now()
                last = self.store.last_report(route.id) if route.report_at else None
                day = report_due(route, last.created_at if last else None, now)
                if day is None:
                    continue
                note = send_report(self.store, route, build(self.config, self.store, route, day, now), now)
                log.info("weekly report for %s (week before %s) queued as notification %d", route.id, day, note.id)
                out.append(note.id)
            return out
