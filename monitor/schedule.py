"""When polls run: a heap of due times, a sized pool of poll threads, an injected clock.

Each job fires at ``start + phase + k * interval`` for k = 0, 1, 2, ...: the phase spreads
the first runs (see :func:`phase_offset`), and from then on the period is the interval
exactly, with no per-period delay, so the schedule never drifts.

A job whose previous run has not finished (it is running, or waiting in the pool) when its
next time comes is *skipped* for that period, never queued behind itself. When the
scheduler itself wakes late (a suspended process, a clock jump) a job runs once and the
periods it slept through are counted as *missed*. Both are counted in :attr:`Scheduler.stats`.

Jobs marked ``inline`` (cheap signals such as waking the processing loop) run in the
scheduler's own thread; every other job runs on the :class:`PollPool`, whose threads are
daemon threads so that a stop can abandon a poll stuck on the network: the store is
transactional, an abandoned poll writes nothing half-done.

:meth:`Scheduler.run_pending` does one step for a given time; the tests drive it with a
manual clock and never sleep.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from monitor.clock import Clock

log = logging.getLogger("repwatch.schedule")


def phase_offset(job_id: str, interval: timedelta, spread: timedelta) -> timedelta:
    """Where in ``[0, min(interval, spread))`` a job's first run falls: the same for the same
    id in every process (a hash, not a random draw), evenly spread over many ids."""
    width = min(interval, spread)
    if width <= timedelta(0):
        return timedelta(0)
    fraction = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big") / 2 ** 64
    return timedelta(seconds=round(fraction * width.total_seconds(), 6))


@dataclass(frozen=True)
class Every:
    """A job's trigger: every ``interval``, the first run ``phase`` after it was added."""

    interval: timedelta
    phase: timedelta = timedelta(0)


@dataclass(frozen=True)
class Job:
    id: str
    name: str
    trigger: Every
    func: Callable[[], object] = field(repr=False, compare=False)
    inline: bool = False


@dataclass
class ScheduleStats:
    started: int = 0
    skipped: int = 0  # due while the previous run was still going
    missed: int = 0  # periods the scheduler slept through


class PollPool:
    """``size`` daemon threads taking calls from one queue; started by the first call."""

    def __init__(self, size: int, name: str = "poll"):
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(size)]
        self._start = threading.Lock()

    def submit(self, call: Callable[[], None]) -> None:
        with self._start:
            if not self._threads[0].ident:
                for t in self._threads:
                    t.start()
        self._tasks.put(call)

    def backlog(self) -> int:
        """Calls waiting for a thread (approximate, as any queue size read from outside)."""
        return self._tasks.qsize()

    def _work(self) -> None:
        while (call := self._tasks.get()) is not None:
            try:
                call()
            except Exception:  # a job's own errors are its to report; the thread lives on
                log.exception("a pooled job raised")

    def close(self) -> None:
        """Let the threads end once the queue is empty (queued calls still run)."""
        with self._start:
            for t in self._threads:
                if t.ident:
                    self._tasks.put(None)


class Scheduler:
    """Runs jobs at their times on a :class:`PollPool`; see the module docstring."""

    def __init__(self, clock: Clock, pool: PollPool):
        self.clock = clock
        self.pool = pool
        self.stats = ScheduleStats()
        self._jobs: dict[str, tuple[Job, int]] = {}  # id -> (job, generation)
        self._heap: list[tuple[datetime, int, str, int]] = []  # (due, tie, id, generation)
        self._tie = itertools.count()
        self._generation = itertools.count(1)
        self._busy: set[str] = set()
        self._done = threading.Condition()  # guards _busy; notified when a run ends
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ jobs

    def add_job(self, job_id: str, func: Callable[[], object], trigger: Every, name: str = "",
                inline: bool = False) -> Job:
        """Add (or replace) a job; its first run is ``trigger.phase`` from now."""
        job = Job(job_id, name or job_id, trigger, func, inline)
        with self._lock:
            generation = next(self._generation)
            self._jobs[job_id] = (job, generation)
            heapq.heappush(self._heap, (self.clock.now() + trigger.phase, next(self._tie), job_id, generation))
        self._wake.set()
        return job

    def remove_job(self, job_id: str) -> None:
        """Stop scheduling a job (a run in progress ends on its own); KeyError when unknown."""
        with self._lock:
            del self._jobs[job_id]

    def get_jobs(self) -> list[Job]:
        with self._lock:
            return [job for job, _ in self._jobs.values()]

    def in_flight(self) -> int:
        with self._done:
            return len(self._busy)

    # ------------------------------------------------------------ running

    def run_pending(self, now: datetime) -> list[str]:
        """Start every job due at ``now``; return the ids started. Each due job gets its next
        time on its own grid (``due + interval``, past ``now``)."""
        started: list[str] = []
        while True:
            with self._lock:
                if not self._heap or self._heap[0][0] > now:
                    return started
                due, _, job_id, generation = heapq.heappop(self._heap)
                entry = self._jobs.get(job_id)
                if entry is None or entry[1] != generation:
                    continue  # removed or replaced since
                job = entry[0]
                step = job.trigger.interval
                behind = (now - due) // step if step > timedelta(0) else 0
                self.stats.missed += behind
                heapq.heappush(self._heap, (due + (behind + 1) * step, next(self._tie), job_id, generation))
            if self._start(job):
                started.append(job_id)

    def _start(self, job: Job) -> bool:
        with self._done:
            if job.id in self._busy:
                self.stats.skipped += 1
                log.debug("%s: still running from its previous time; skipped this one", job.name)
                return False
            self._busy.add(job.id)
            self.stats.started += 1
        if job.inline:
            self._run(job)
        else:
            self.pool.submit(lambda: self._run(job))
        return True

    def _run(self, job: Job) -> None:
        try:
            job.func()
        except Exception:
            log.exception("%s failed", job.name)
        finally:
            with self._done:
                self._busy.discard(job.id)
                self._done.notify_all()

    def next_due(self) -> datetime | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.run_pending(self.clock.now())
            due = self.next_due()
            wait = 1.0 if due is None else (due - self.clock.now()).total_seconds()
            self._wake.wait(min(max(wait, 0.0), 1.0))
            self._wake.clear()

    def shutdown(self, grace: float) -> int:
        """Start nothing more; wait up to ``grace`` seconds for runs in progress; return how
        many were still running (abandoned: their threads are daemons)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            self._heap.clear()
        with self._done:
            self._done.wait_for(lambda: not self._busy, timeout=grace)
            left = len(self._busy)
        self.pool.close()
        return left
