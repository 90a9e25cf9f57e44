"""The daemon: APScheduler runs one job per source, plus a job that scores, evaluates,
dispatches and delivers every ``outbox_every`` (10 s: a grouped page leaves within
group_wait + 10 s, escalations within 10 s of their time). The HTTP endpoint
(:mod:`monitor.httpd`: /healthz, /metrics, /ack) runs beside it when ``[daemon] listen``
is set.

Start times are jittered so many sources do not fire together; each source job is
``max_instances=1`` and coalesced, so a slow source never piles up. SIGTERM and
SIGINT stop the scheduler gracefully: running polls finish, nothing is cut mid-write.
"""
from __future__ import annotations

import logging
import random
import signal
import threading
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App
from monitor.clock import UTC

log = logging.getLogger("repwatch.daemon")


class Daemon:
    def __init__(self, app: App, outbox_every: timedelta = timedelta(seconds=10)):
        self.app = app
        self.stopping = threading.Event()
        self.endpoint = None
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                                         "misfire_grace_time": 300})
        now = app.clock.now()
        jitter = app.config.daemon.jitter.total_seconds()
        for source in app.config.sources:
            if not source.enabled:
                continue
            every = source.every.total_seconds()
            first = now + timedelta(seconds=random.uniform(0, min(jitter, every)) if jitter else 0)
            self.scheduler.add_job(
                self._run_source, IntervalTrigger(seconds=every, jitter=min(jitter, every / 4) or None, timezone=UTC),
                args=(source.id,), id=f"source:{source.id}", name=f"poll {source.id}", next_run_time=first,
            )
        self.scheduler.add_job(self._run_outbox, IntervalTrigger(seconds=outbox_every.total_seconds(), timezone=UTC),
                               id="outbox", name="scores, rules and deliveries")

    def _run_source(self, source_id: str) -> None:
        if self.stopping.is_set():
            return
        try:
            self.app.poll_source(source_id)
            self.app.process()
        except Exception:  # never let one source kill the scheduler thread
            log.exception("poll of %s failed", source_id)

    def _run_outbox(self) -> None:
        if self.stopping.is_set():
            return
        try:
            self.app.process()
        except Exception:
            log.exception("outbox run failed")

    def stop(self, *_args) -> None:
        if not self.stopping.is_set():
            log.info("stopping: waiting for running polls to finish")
            self.stopping.set()

    def run(self, install_signals: bool = True, until: threading.Event | None = None) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self.scheduler.start()
        if self.app.config.daemon.listen:
            from monitor.httpd import Endpoint

            try:
                self.endpoint = Endpoint(self.app, self.app.config.daemon.listen,
                                         alive=lambda: self.scheduler.running and not self.stopping.is_set()).start()
            except OSError as exc:  # paging goes on without it; ack links and /metrics do not
                log.error("HTTP endpoint cannot listen on %s (%s): ack links, /healthz and /metrics are off",
                          self.app.config.daemon.listen, exc)
        log.info("repwatch running: %d sources, %d rules", len(self.scheduler.get_jobs()) - 1,
                 len(self.app.config.rules))
        try:
            while not self.stopping.wait(0.5):
                if until is not None and until.is_set():
                    break
        finally:
            if self.endpoint is not None:
                self.endpoint.stop()
            self.scheduler.shutdown(wait=True)
            log.info("stopped")
