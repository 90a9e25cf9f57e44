"""The processing loop: :meth:`monitor.app.App.process` (scoring, rules, dispatch, outbox)
in one thread of its own, apart from the polls.

It runs when woken (:meth:`ProcessLoop.wake`: a poll stored something new; the
scheduler's ``outbox`` timer for escalations, digests and group waits) and never twice at
once: wakes that arrive while a run is going are coalesced into one more run after it.
A poll never waits for it; it only sets an event. Stopping runs one last process, so that
what the last polls stored is scored and paged before the daemon exits.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger("repwatch.daemon")


class ProcessLoop:
    def __init__(self, process: Callable[[], object]):
        self._process = process
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a wake for something that may page: cuts a nap short
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def wake(self, urgent: bool = False) -> None:
        """Ask for a run; returns at once. ``urgent``: for something that may page (a live
        mention), which also cuts short a :meth:`nap` of the run going on."""
        if urgent:
            self._urgent.set()
        self._wake.set()

    def nap(self, seconds: float) -> bool:
        """Wait up to ``seconds`` inside a run; True, at once, when an urgent wake arrives
        meanwhile (that wake stays pending, so the next run follows this one). Other wakes
        (history stored, the outbox timer) do not cut it: they wait for the next run."""
        return self._urgent.wait(seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="process", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()  # wakes from now on ask for the run after this one
            self._urgent.clear()
            last = self._stopping.is_set()
            self.run_once()
            if last:
                return

    def run_once(self) -> None:
        try:
            self._process()
        except Exception:  # the loop outlives a failed run; the next wake retries
            log.exception("processing failed")
        finally:
            self.runs += 1

    def stop(self, timeout: float) -> bool:
        """Run one last process and end; False when that did not finish within ``timeout``."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
