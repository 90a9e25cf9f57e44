"""The retention job: ``[storage] retain`` purges what is older (see
:mod:`monitor.store.retention` for what goes and what is kept). While ``retain`` is set the
daemon runs it when it starts and every :data:`RETENTION_EVERY` (the ``retention`` job,
checked again on reload); ``repwatch retention purge`` runs it once."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from monitor.schedule import Every, Scheduler
from monitor.store import PurgeCounts

if TYPE_CHECKING:
    from monitor.app import App

log = logging.getLogger("repwatch.retention")

RETENTION_EVERY = timedelta(hours=1)
RETENTION_JOB = "retention"


def schedule_retention(scheduler: Scheduler, app: App) -> None:
    """Add the ``retention`` job while ``[storage] retain`` is set, remove it once it is not."""
    wanted = app.config.storage.retain is not None
    present = any(j.id == RETENTION_JOB for j in scheduler.get_jobs())
    if wanted and not present:
        scheduler.add_job(RETENTION_JOB, lambda: run_retention(app), Every(RETENTION_EVERY),
                          "retention purge ([storage] retain)")
    elif present and not wanted:
        scheduler.remove_job(RETENTION_JOB)


def run_retention(app: App) -> PurgeCounts | None:
    """Purge what ``[storage] retain`` no longer keeps, as of the app's clock; None when
    ``retain`` is not set (nothing is ever purged then)."""
    retain = app.config.storage.retain
    if retain is None:
        return None
    counts = app.store.purge(app.clock.now() - retain)
    if counts.mentions or counts.payloads or counts.fetches:
        log.info("retention: purged %d mentions (%d versions), %d fetches, %d payloads; kept %d old mentions of "
                 "open incidents and %d under legal hold", counts.mentions, counts.versions, counts.fetches,
                 counts.payloads, counts.kept_open, counts.kept_held)
    return counts
