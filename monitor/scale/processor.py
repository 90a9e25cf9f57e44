"""The processing loop of the scaled-out deployment: exactly one ``repwatch processor``
among any number runs :meth:`monitor.app.App.process` (scoring, rules, dispatch, outbox).

Each candidate asks for the ``processor`` advisory lock (:mod:`monitor.scale.election`)
every ``retry`` seconds; the one holding it runs ``process`` every ``[scale]
process_every``, and at once when a worker rings the wake list (new mentions). Wakes that
arrive during a run are coalesced into the next. If the leader dies, its connection closes,
the lock frees, and a candidate takes it at its next try: well within 30 s.

Nothing is paged twice across a failover: a notification and its deliveries are written in
one transaction, the outbox claims deliveries with one guarded UPDATE, and ``process``
itself holds the ``process`` lease among all processes sharing the database.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

log = logging.getLogger("repwatch.scale")

FAILOVER_RETRY = 2.0  # seconds between a candidate's tries for the lock


class Processor:
    def __init__(self, app, lock, redis, keys, every: timedelta, retry: float = FAILOVER_RETRY):
        self.app, self.lock, self.redis, self.keys = app, lock, redis, keys
        self.every = every.total_seconds()
        self.retry = retry
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        """Stand by, lead when elected, until ``stop`` is set."""
        while not stop.is_set():
            try:
                elected = self.lock.try_acquire()
            except Exception as exc:  # the database away: stand by and ask again
                log.warning("processor: cannot ask for the lock (%s: %s)", type(exc).__name__, exc)
                self.lock.close()
                elected = False
            if not elected:
                stop.wait(self.retry)
                continue
            log.info("processor %s leads", self.lock.holder)
            try:
                self._lead(stop)
            finally:
                self.lock.release()
                log.info("processor %s stands down", self.lock.holder)

    def _lead(self, stop: threading.Event) -> None:
        while not stop.is_set() and self.lock.alive():
            try:
                report = self.app.process()
                self.runs += 1
                log.debug("processed: %s", report)
            except Exception:  # the next run tries again
                log.exception("processing failed")
            self._wait(stop)

    def _wait(self, stop: threading.Event) -> None:
        """Until the next period, a wake from a worker, or ``stop``."""
        deadline = time.monotonic() + self.every
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                if self.redis.blpop([self.keys.wake], timeout=min(1.0, left)):
                    self.redis.delete(self.keys.wake)  # coalesce: one run for every wake so far
                    return
            except Exception as exc:  # no doorbell: the period still runs it
                log.warning("processor: wake list unavailable (%s)", type(exc).__name__)
                stop.wait(min(1.0, left))
