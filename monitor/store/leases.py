"""Leases: a named lease one process holds at a time, among all processes and machines
sharing the database, taken with one conditional UPDATE on both engines."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, update

from monitor.store.core import StoreBase
from monitor.store.tables import RELEASED, LeaseRow

log = logging.getLogger("repwatch.storage")


class LeasesRepo(StoreBase):
    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take, or renew, the lease ``name`` for ``holder`` until ``now + ttl``; False while
        another holder has it unexpired. One conditional UPDATE decides, so of two processes
        asking at once (SQLite or PostgreSQL) exactly one gets it."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        with self.engine.begin() as conn:
            conn.execute(insert(LeaseRow).values(name=name, holder="", expires_at=RELEASED)
                         .on_conflict_do_nothing(index_elements=["name"]))
            free = or_(LeaseRow.expires_at < now, LeaseRow.holder == holder)
            taken = conn.execute(update(LeaseRow).where(LeaseRow.name == name, free)
                                 .values(holder=holder, expires_at=now + ttl))
            return taken.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease back (only when ``holder`` still has it): the next asker gets it at once."""
        with self.engine.begin() as conn:
            conn.execute(update(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder)
                         .values(expires_at=RELEASED))



class Lease:
    """Hold the lease ``name`` while a ``with`` block runs, so that one process at a time does
    what it guards, among all processes and machines sharing the database::

        with Lease(store, "process", holder, clock, ttl=timedelta(seconds=60)) as held:
            if held: ...

    ``held`` is False when another holder kept it for all of ``wait`` (real time: this waits
    for another process, not for a window). While held, a thread renews it every ``ttl / 3``;
    a holder killed outright stops renewing, and its lease is free ``ttl`` after its last
    renewal, so nobody waits on a dead process for longer than that."""

    def __init__(self, store: LeasesRepo, name: str, holder: str, clock, ttl: timedelta,
                 wait: timedelta = timedelta(0), sleep: Callable[[float], None] = time.sleep):
        self.store, self.name, self.holder, self.clock, self.ttl = store, name, holder, clock, ttl
        self.wait, self.sleep = wait, sleep
        self.held = False
        self.lost = False  # renewal found it taken by another holder (this one stalled past ttl)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> bool:
        deadline = time.monotonic() + self.wait.total_seconds()
        while not self.store.take_lease(self.name, self.holder, self.clock.now(), self.ttl):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sleep(min(0.2, left))
        self.held = True
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                if not self.store.take_lease(self.name, self.holder, self.clock.now(), self.ttl):
                    self.lost = True
                    log.error("lease %s expired while %s held it (stalled for over %s); another process has it now",
                              self.name, self.holder, self.ttl)
                    return
            except Exception as exc:  # the database away for a moment: try again at the next renewal
                log.warning("lease %s: renewal failed: %s: %s", self.name, type(exc).__name__, exc)

    def __exit__(self, *exc) -> bool:
        if not self.held:
            return False
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.held = False
        try:
            self.store.release_lease(self.name, self.holder)
        except Exception as err:  # it expires by itself
            log.warning("lease %s: release failed (%s: %s); it frees itself after %s", self.name,
                        type(err).__name__, err, self.ttl)
        return False
