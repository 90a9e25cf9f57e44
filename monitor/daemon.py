"""The daemon: APScheduler runs one job per source, plus a job that scores, evaluates,
dispatches and delivers every ``outbox_every`` (10 s: a grouped page leaves within
group_wait + 10 s, escalations within 10 s of their time). The HTTP endpoint
(:mod:`monitor.httpd`: /healthz, /metrics, /ack) runs beside it when ``[daemon] listen``
is set.

Start times are jittered so many sources do not fire together; each source job is
``max_instances=1`` and coalesced, so a slow source never piles up. SIGTERM and
SIGINT stop the scheduler gracefully: running polls finish, nothing is cut mid-write.

SIGHUP reloads the config file, as Prometheus and Alertmanager do: the file is validated
first, and a file with problems leaves the running config in place (each problem is
logged as ``file:line: key: problem``). A valid file replaces sources (added, removed and
changed ones are rescheduled), entities, routes, rules and incidents; the database, the
model and the listen address need a restart, and the log says so when they changed.
"""
from __future__ import annotations

import logging
import random
import signal
import threading
from datetime import timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app import App
from monitor.clock import UTC
from monitor.config import Config, Source, load_config
from monitor.errors import ConfigError

log = logging.getLogger("repwatch.daemon")


class Daemon:
    def __init__(self, app: App, outbox_every: timedelta = timedelta(seconds=10)):
        self.app = app
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.endpoint = None
        self.scheduler = BackgroundScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                                         "misfire_grace_time": 300})
        now = app.clock.now()
        for source in app.config.sources:
            if source.enabled:
                self._schedule(source, now)
        self.scheduler.add_job(self._run_outbox, IntervalTrigger(seconds=outbox_every.total_seconds(), timezone=UTC),
                               id="outbox", name="scores, rules and deliveries")

    def _schedule(self, source: Source, now) -> None:
        jitter = self.app.config.daemon.jitter.total_seconds()
        every = source.every.total_seconds()
        first = now + timedelta(seconds=random.uniform(0, min(jitter, every)) if jitter else 0)
        self.scheduler.add_job(
            self._run_source, IntervalTrigger(seconds=every, jitter=min(jitter, every / 4) or None, timezone=UTC),
            args=(source.id,), id=f"source:{source.id}", name=f"poll {source.id}", next_run_time=first,
        )

    def reload(self) -> bool:
        """Read the config file again and run it if it is valid; return whether it runs."""
        path = self.app.config.path
        try:
            config = load_config(path)
        except ConfigError as exc:
            log.error("reload: %s has %d problem(s); still running the previous config:\n%s", path,
                      len(exc.problems), exc)
            return False
        except Exception as exc:  # never let a reload take the daemon down
            log.error("reload: cannot read %s (%s: %s); still running the previous config", path,
                      type(exc).__name__, exc)
            return False
        old = self.app.config
        try:
            restart = self.app.reload(config)
        except Exception:
            log.exception("reload: %s could not be applied; still running the previous config", path)
            return False
        added, removed, changed = _source_changes(old, self.app.config)
        now = self.app.clock.now()
        for source_id in removed | changed:
            try:
                self.scheduler.remove_job(f"source:{source_id}")
            except JobLookupError:
                pass
        for source in self.app.config.sources:
            if source.id in added | changed:
                self._schedule(source, now)
        new = self.app.config
        log.info("reloaded %s: sources added %s, removed %s, changed %s; %d sources, %d entities, %d routes, "
                 "%d rules", path, sorted(added) or "none", sorted(removed) or "none", sorted(changed) or "none",
                 sum(1 for s in new.sources if s.enabled), len(new.entities), len(new.routes), len(new.rules))
        if restart:
            log.warning("reload: %s changed; that takes a restart, the running values stay", ", ".join(restart))
        return True

    def _run_source(self, source_id: str) -> None:
        if self.stopping.is_set() or not any(s.id == source_id for s in self.app.config.sources):
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

    def request_reload(self, *_args) -> None:
        self.reload_requested.set()  # the main loop reloads: a signal handler must not wait for locks

    def run(self, install_signals: bool = True, until: threading.Event | None = None) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
            if hasattr(signal, "SIGHUP"):
                signal.signal(signal.SIGHUP, self.request_reload)
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
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    log.info("SIGHUP: reloading %s", self.app.config.path)
                    self.reload()
        finally:
            if self.endpoint is not None:
                self.endpoint.stop()
            self.scheduler.shutdown(wait=True)
            log.info("stopped")


def _source_changes(old: Config, new: Config) -> tuple[set[str], set[str], set[str]]:
    """Enabled sources added, removed (or disabled) and changed (their table or credentials)."""
    before = {s.id: s for s in old.sources if s.enabled}
    after = {s.id: s for s in new.sources if s.enabled}
    changed = {i for i in before.keys() & after.keys() if before[i] != after[i] or before[i].digest != after[i].digest}
    return after.keys() - before.keys(), before.keys() - after.keys(), changed
