"""The one scheduler of the scaled-out deployment: it enqueues each enabled source's poll
when it is due, and never while one is still pending.

Due times: a source's first poll comes at a fixed offset within ``[daemon] jitter`` (a
hash of its id, so the spread survives restarts and many sources never fire together);
after that every ``every`` exactly: the next due time is the previous one plus ``every``,
never "now plus every", so the period does not drift. A due time missed (the scheduler was
stopped, or the source's previous poll is still pending) is skipped, never bunched.

A source is queued only when its pending mark can be set (:class:`~monitor.scale.tasks.Pending`),
so a slow or backlogged source has at most one poll queued or running. Several
``repwatch scheduler`` processes may run: the ``scheduler`` advisory lock lets one enqueue
and keeps the others standing by (:mod:`monitor.scale.election`).
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

log = logging.getLogger("repwatch.scale")


def offset(source_id: str, spread: timedelta) -> timedelta:
    """A stable offset in [0, spread) for ``source_id``."""
    unit = int.from_bytes(hashlib.sha256(source_id.encode()).digest()[:8], "big") / 2 ** 64
    return spread * unit


@dataclass
class TickReport:
    queued: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # due, but the previous poll is not done
    failed: list[str] = field(default_factory=list)  # the broker refused: tried again next tick


class Scheduler:
    def __init__(self, config, send: Callable[[str], None], pending, start: datetime):
        """``send(source_id)`` enqueues one poll; ``start`` is when the schedule begins."""
        self.send, self.pending = send, pending
        jitter = config.daemon.jitter
        self.every = {s.id: s.every for s in config.sources if s.enabled}
        self.due_at = {i: start + offset(i, min(jitter, every)) for i, every in self.every.items()}

    def _advance(self, source_id: str, now: datetime) -> None:
        """The next due time after ``now`` on the source's fixed grid."""
        every = self.every[source_id]
        behind = (now - self.due_at[source_id]) / every
        self.due_at[source_id] += every * (math.floor(behind) + 1)

    def tick(self, now: datetime) -> TickReport:
        """Enqueue every poll due at ``now``."""
        report = TickReport()
        for source_id, due in self.due_at.items():
            if due > now:
                continue
            if not self.pending.claim(source_id):
                report.pending.append(source_id)
                self._advance(source_id, now)
                continue
            try:
                self.send(source_id)
            except Exception as exc:
                self.pending.release(source_id)
                report.failed.append(source_id)
                log.error("scheduler: could not queue %s (%s: %s)", source_id, type(exc).__name__, exc)
                continue
            report.queued.append(source_id)
            self._advance(source_id, now)
        if report.pending:
            log.info("scheduler: %d due polls skipped, their previous poll is still pending", len(report.pending))
        return report

    def next_due(self) -> datetime | None:
        return min(self.due_at.values(), default=None)
