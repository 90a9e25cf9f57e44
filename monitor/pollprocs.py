"""Polls in child processes (``[daemon] poll_processes``), for thousands of sources.

A poll is fetch + parse (the connector: HTTP, feedparser, HTML) + match + store, nearly all
of it Python holding the GIL, so on one process polls top out near one core (about 50 first
polls a second of a 3-5 entry feed, on this 2-core machine). With ``poll_processes = N`` the
daemon's scheduler hands each due poll to one of N child processes, each with its own
:class:`~monitor.app.App` (connectors, HTTP client, store connection; no model) and a thread
per poll in flight, and gets back its :class:`~monitor.app.PollReport`; scoring, rules and
paging stay in the daemon, woken by a report that stored something live. This is the scale-out
mode's worker (``repwatch worker``) without a broker: the data flows as before, scheduler ->
connector -> mention -> match -> store in the child, score -> rules -> notify here, and the
store decides what is new (on SQLite, a write transaction taken at its start orders two
processes storing the same article; on PostgreSQL an advisory lock).

Per-host rate limits hold across the children because every host that has a limit is polled
by one child only: a source is sent to the child its *key* hashes to, where the key is the
source's type for the platform connectors (their API hosts are fixed and limited), the
feed's host for a feed or page whose host has a limit, and the source id otherwise (the
load spreads evenly). A child that dies is replaced; its polls in flight fail as errors
against their sources, and the next poll runs on the new child. What a connector learned in
memory (an OAuth token, a backoff) lives in its child and is rebuilt after a reload.
"""
from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import threading
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.app import App, PollReport
from monitor.logs import setup_logging

if TYPE_CHECKING:
    from monitor.config import Config

log = logging.getLogger(__name__)

URL_TYPES = frozenset({"rss", "google_alerts", "html"})  # connectors that fetch the configured URL only
STOP = None


def child_key(source, limited) -> str:
    """What decides a source's child: see the module docstring. ``limited(host)`` tells
    whether a host has a rate limit."""
    if source.type not in URL_TYPES:
        return f"type:{source.type}"
    host = (urlsplit(source.url or "").hostname or "").lower()
    return f"host:{host}" if host and limited(host) else f"id:{source.id}"


def _child_main(config: Config, threads: int, tasks, results, level: str) -> None:
    """A child: one App (no model), each poll on a thread, reports sent back; logs as the
    daemon does (``level``, PHI masked)."""
    setup_logging(level)
    app = App.from_config(config, model=False)

    def run(task_id: int, source_id: str) -> None:
        try:
            results.put((task_id, app.poll_source(source_id), None))  # never raises
        except BaseException as exc:
            results.put((task_id, None, f"{type(exc).__name__}: {exc}"))

    with ThreadPoolExecutor(threads, thread_name_prefix="poll") as pool:
        while (task := tasks.get()) is not STOP:
            pool.submit(run, *task)
    app.close()


class _Child:
    """One child process, its task queue, and a thread here that resolves its futures."""

    def __init__(self, ctx, config: Config, threads: int, index: int):
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.waiting: dict[int, Future] = {}
        self.lock = threading.Lock()
        self.process = ctx.Process(target=_child_main, args=(config, threads, self.tasks, self.results,
                                         logging.getLevelName(logging.getLogger().getEffectiveLevel())),
                                   name=f"repwatch-poll-{index}", daemon=True)
        self.process.start()
        self.reader = threading.Thread(target=self._read, name=f"poll-results-{index}", daemon=True)
        self.reader.start()

    def submit(self, task_id: int, source_id: str) -> Future:
        future: Future = Future()
        with self.lock:
            self.waiting[task_id] = future
        self.tasks.put((task_id, source_id))
        return future

    def _read(self) -> None:
        while True:
            try:
                task_id, result, error = self.results.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    self._fail_all(f"poll process exited with code {self.process.exitcode}")
                    return
                continue
            except (EOFError, OSError, ValueError):  # closed
                self._fail_all("poll process closed")
                return
            if task_id is STOP:
                return
            with self.lock:
                future = self.waiting.pop(task_id, None)
            if future is not None:
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(RuntimeError(error))

    def _fail_all(self, why: str) -> None:
        with self.lock:
            waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            future.set_exception(RuntimeError(why))

    def alive(self) -> bool:
        return self.process.is_alive() and self.reader.is_alive()

    def close(self, timeout: float = 2.0) -> None:
        try:
            self.tasks.put(STOP)
        except (ValueError, OSError):
            pass
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self._fail_all("poll process stopped")
        try:
            self.results.put((STOP, None, None))
        except (ValueError, OSError):
            pass


class PollProcesses:
    """``processes`` children polling the sources of ``config``; :meth:`poll` is what
    ``App.poll_source`` is in one process."""

    def __init__(self, config: Config, processes: int, threads: int | None = None):
        from connectors.http import HostLimiter

        self._mp = multiprocessing.get_context("spawn")  # never fork a process that runs threads
        self._config = config
        self._threads = threads or max(1, -(-config.daemon.poll_workers // processes))
        self._children: list[_Child | None] = [None] * processes
        self._start = threading.Lock()
        self._ids = itertools.count(1)
        rates = HostLimiter(dict(config.daemon.rate_limits))
        self._limited = lambda host: rates.rate_for(host) is not None  # noqa: E731
        self._closed = False

    @classmethod
    def of(cls, config: Config) -> PollProcesses | None:
        """The children ``config`` asks for, or None."""
        return cls(config, config.daemon.poll_processes) if config.daemon.poll_processes else None

    def slot(self, source) -> int:
        return zlib.crc32(child_key(source, self._limited).encode()) % len(self._children)

    def _child(self, index: int) -> _Child:
        with self._start:
            if self._closed:
                raise RuntimeError("poll processes are closed")
            child = self._children[index]
            if child is None or not child.alive():
                if child is not None:
                    log.warning("poll process %d died (exit code %s); starting another", index,
                                child.process.exitcode)
                    child.close(0.1)
                child = self._children[index] = _Child(self._mp, self._config, self._threads, index)
            return child

    def poll(self, source) -> PollReport:
        """The poll of ``source`` in its child; RuntimeError when the child died or stopped
        before it answered (the caller records that against the source)."""
        return self._child(self.slot(source)).submit(next(self._ids), source.id).result()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the children; each finishes its polls in flight for up to ``timeout`` seconds."""
        with self._start:
            self._closed = True
            children, self._children = self._children, [None] * len(self._children)
        for child in children:
            if child is not None:
                child.close(timeout)
