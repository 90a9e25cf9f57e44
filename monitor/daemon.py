"""The daemon: polls on a schedule, processing in a loop of its own, the HTTP endpoint.

* Polls (:meth:`monitor.app.App.poll_source`: fetch, match, store) run on a pool of
  ``[daemon] poll_workers`` threads, at the times of :mod:`monitor.schedule`: each
  source's first poll is spread over ``min(every, jitter)`` by a fixed offset per source
  id, then it polls every ``every`` exactly. A poll still running when its next is due
  skips that one (counted); nothing piles up.
* Processing (:meth:`monitor.app.App.process`: scores, rules, dispatch, deliveries) runs
  in :class:`monitor.processing.ProcessLoop`, woken when a poll stored a live mention (one
  that may page; history alone waits for the tick), when a run left history unscored, and by
  the ``outbox`` timer every ``outbox_every`` (10 s: a grouped page leaves within
  group_wait + 10 s, escalations within 10 s of their time). Polls never wait for it, and
  while polls run, history (first-poll backfill) is scored at most half the time
  (:mod:`monitor.scoring`), so that new sources' backlog never starves their polls.
* The web app (:mod:`monitor.web`: the dashboard, /healthz, /metrics, /ack) runs beside
  them when ``[daemon] listen`` is set.
* Weekly reports (:mod:`monitor.report.schedule`): while a route has ``report_at``, the
  ``reports`` job checks every minute and queues a due report in the outbox.

SIGTERM and SIGINT stop scheduling, give running polls up to ``STOP_GRACE`` to finish
(then abandon them: the store is transactional), run a last process and exit.

SIGHUP reloads the config file, as Prometheus and Alertmanager do: the file is validated
first, and a file with problems leaves the running config in place (each problem is
logged as ``file:line: key: problem``). A valid file replaces sources (added, removed and
changed ones are rescheduled), entities, routes, rules and incidents; the database, the
model and the listen address need a restart, and the log says so when they changed.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import timedelta

from monitor.app import App
from monitor.config import Config, Source, load_config
from monitor.errors import ConfigError
from monitor.evidence.retention import schedule_retention
from monitor.processing import ProcessLoop
from monitor.report.schedule import CHECK_EVERY, WeeklyReports
from monitor.pollprocs import PollProcesses
from monitor.schedule import Every, PollPool, Scheduler, phase_offset

log = logging.getLogger("repwatch.daemon")

STOP_GRACE = 5.0  # seconds running polls get to finish on SIGTERM
LAST_PROCESS = 4.0  # seconds the last process gets before the daemon exits anyway


class Daemon:
    def __init__(self, app: App, outbox_every: timedelta = timedelta(seconds=10)):
        self.app = app
        self.stopping = threading.Event()
        self.reload_requested = threading.Event()
        self.endpoint = None
        self.processor = ProcessLoop(self._process)
        self.scheduler = Scheduler(app.clock, PollPool(app.config.daemon.poll_workers))
        self.children = PollProcesses.of(app.config)  # [daemon] poll_processes; None: polls on threads here
        self._polls, self._polls_lock = 0, threading.Lock()  # polls running now
        self._unpolled: set[str] = set()  # sources scheduled that have not polled yet (a first round)
        app.scoring.polls_running = lambda: self._polls > 0  # history scoring yields to them
        app.scoring.pause = self.processor.nap  # ... and ends its run when a poll stores something new
        # ... and waits while new sources' first polls queue for a thread
        app.scoring.polls_queued = lambda: bool(self._unpolled) and self.scheduler.pool.backlog() > 0
        for source in app.config.sources:
            if source.enabled:
                self._schedule(source)
        self.scheduler.add_job("outbox", self.processor.wake, Every(outbox_every), "scores, rules and deliveries",
                               inline=True)
        schedule_retention(self.scheduler, self.app)  # while [storage] retain is set
        self._schedule_reports()

    def _schedule_reports(self) -> None:
        """The ``reports`` job while some route has ``report_at`` (checked again on reload)."""
        wanted = any(r.report_at for r in self.app.config.routes)
        present = any(j.id == "reports" for j in self.scheduler.get_jobs())
        if wanted and not present:
            self.scheduler.add_job("reports", self._run_reports, Every(CHECK_EVERY), "weekly reports")
        elif present and not wanted:
            self.scheduler.remove_job("reports")

    def _run_reports(self) -> None:
        if not self.stopping.is_set() and WeeklyReports(self.app.config, self.app.store, self.app.clock).run():
            self.processor.wake()  # the outbox sends it

    def _schedule(self, source: Source) -> None:
        phase = phase_offset(source.id, source.every, self.app.config.daemon.jitter)
        self.scheduler.add_job(f"source:{source.id}", lambda: self._run_source(source.id),
                               Every(source.every, phase), f"poll {source.id}")
        self._unpolled.add(source.id)

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
        for source_id in removed | changed:
            try:
                self.scheduler.remove_job(f"source:{source_id}")
            except KeyError:
                pass
            self._unpolled.discard(source_id)
        for source in self.app.config.sources:
            if source.id in added | changed:
                self._schedule(source)
        schedule_retention(self.scheduler, self.app)
        self._schedule_reports()
        old_children, self.children = self.children, PollProcesses.of(self.app.config)
        if old_children is not None:  # its polls in flight finish in the background
            threading.Thread(target=old_children.close, kwargs={"timeout": 60.0}, daemon=True).start()
        new = self.app.config
        log.info("reloaded %s: sources added %s, removed %s, changed %s; %d sources, %d entities, %d routes, "
                 "%d rules", path, sorted(added) or "none", sorted(removed) or "none", sorted(changed) or "none",
                 sum(1 for s in new.sources if s.enabled), len(new.entities), len(new.routes), len(new.rules))
        if restart:
            log.warning("reload: %s changed; that takes a restart, the running values stay", ", ".join(restart))
        return True

    def _run_source(self, source_id: str) -> None:
        if self.stopping.is_set() or source_id not in self.app.connectors:
            self._unpolled.discard(source_id)
            return
        with self._polls_lock:
            self._polls += 1
        try:
            report = self._poll(source_id)  # never raises
        finally:
            with self._polls_lock:
                self._polls -= 1
                self._unpolled.discard(source_id)
        if report.live:  # history alone waits for the outbox tick: the rules have nothing new to read
            self.processor.wake(urgent=True)  # ... and a live mention cuts history's nap short

    def _poll(self, source_id: str):
        children, started = self.children, time.perf_counter()
        if children is None:
            return self.app.poll_source(source_id)
        try:
            return children.poll(self.app.config.source(source_id))
        except Exception as exc:  # the child died or stopped mid-poll: the source's failure, not the daemon's
            return self.app.poll_failed(source_id, str(exc), started)

    def _process(self) -> None:
        report = self.app.process()
        if report.history_left:  # the backlog goes on right after this run, not at the next tick
            self.processor.wake()

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
        self.processor.start()
        self.scheduler.start()
        if self.app.config.daemon.listen:
            from monitor.web import WebServer

            try:
                self.endpoint = WebServer(self.app, self.app.config.daemon.listen,
                                         alive=lambda: self.scheduler.running and not self.stopping.is_set()).start()
            except OSError as exc:  # paging goes on without it; ack links and /metrics do not
                log.error("HTTP endpoint cannot listen on %s (%s): ack links, /healthz and /metrics are off",
                          self.app.config.daemon.listen, exc)
        log.info("repwatch running: %d sources, %d rules, %d poll workers%s",
                 sum(j.id.startswith("source:") for j in self.scheduler.get_jobs()),
                 len(self.app.config.rules), self.app.config.daemon.poll_workers,
                 f" in {self.app.config.daemon.poll_processes} poll processes" if self.children else "")
        try:
            while not self.stopping.wait(0.5):
                if until is not None and until.is_set():
                    break
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    log.info("SIGHUP: reloading %s", self.app.config.path)
                    self.reload()
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self.stopping.set()
        if self.endpoint is not None:
            self.endpoint.stop()
        abandoned = self.scheduler.shutdown(grace=STOP_GRACE)
        if abandoned:
            log.warning("stopping: %d polls still running after %.0fs, abandoned (nothing half-stored)",
                        abandoned, STOP_GRACE)
        if self.children is not None:
            self.children.close()
        if not self.processor.stop(timeout=LAST_PROCESS):
            log.warning("stopping: the last process did not finish within %.0fs", LAST_PROCESS)
        stats = self.scheduler.stats
        log.info("stopped (polls started %d, skipped while still running %d, missed %d)", stats.started,
                 stats.skipped, stats.missed)


def _source_changes(old: Config, new: Config) -> tuple[set[str], set[str], set[str]]:
    """Enabled sources added, removed (or disabled) and changed (their table or credentials)."""
    before = {s.id: s for s in old.sources if s.enabled}
    after = {s.id: s for s in new.sources if s.enabled}
    changed = {i for i in before.keys() & after.keys() if before[i] != after[i] or before[i].digest != after[i].digest}
    return after.keys() - before.keys(), before.keys() - after.keys(), changed
