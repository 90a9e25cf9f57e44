"""The poll task, and the pending marks that keep a source from being queued twice.

A poll is :meth:`monitor.app.App.poll_source` (fetch, match, store; thread-safe) on the
worker's one :class:`~monitor.app.App`. What it stores is stored once however often it
runs: mentions are inserted once by their unique keys, so a redelivered or duplicated
poll stores nothing twice. A poll that stored something new (or a new version of an
edited mention) pushes the source's id on the wake list, which the elected processor
waits on.

Errors: a source's own failures (HTTP errors, timeouts, bad payloads) are retried inside
the poll within its deadline and then recorded as the source's health, as in the daemon;
the next due poll is the next try. What Celery retries, with exponential backoff and
jitter, is the infrastructure being away: the database (a failed poll is followed by a
``SELECT 1``; if that fails too, the poll is retried) or Redis.
"""
from __future__ import annotations

import logging
import random
from datetime import timedelta

log = logging.getLogger("repwatch.scale")

POLL_TASK = "repwatch.poll"
MAX_RETRIES = 6
WAKE_KEEP = 100  # the wake list is a doorbell: a few entries are as good as many


def transient_errors() -> tuple[type[BaseException], ...]:
    """What Celery retries: the database or Redis being unreachable."""
    import redis
    from sqlalchemy.exc import InterfaceError, OperationalError

    return OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError


def backoff(retries: int, cap: float = 120.0) -> float:
    """Seconds before retry ``retries + 1``: 2, 4, 8 … capped at ``cap``, less up to 25 % (jitter,
    so workers that failed together do not retry together). A retry waits in its worker
    unacknowledged, so ``cap`` stays under the visibility timeout."""
    return min(2.0 * 2 ** retries, cap) * random.uniform(0.75, 1.0)


class Pending:
    """One Redis key per queued poll (``SET NX`` with a TTL): the scheduler queues a source
    only when it can set it, and the poll deletes it when it has finished. The TTL (twice
    the visibility timeout) frees a mark whose poll was lost with the broker's data."""

    def __init__(self, redis, keys, ttl: timedelta):
        self.redis, self.keys, self.ttl = redis, keys, max(1, int(ttl.total_seconds()))

    def claim(self, source_id: str) -> bool:
        return bool(self.redis.set(self.keys.pending(source_id), "1", nx=True, ex=self.ttl))

    def release(self, source_id: str) -> None:
        self.redis.delete(self.keys.pending(source_id))


def _database_answers(app) -> None:
    """Raise the database's error when it does not answer ``SELECT 1``."""
    from sqlalchemy import text

    with app.store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _ring(redis, keys, source_id: str) -> None:
    try:
        redis.pipeline().lpush(keys.wake, source_id).ltrim(keys.wake, 0, WAKE_KEEP - 1).execute()
    except Exception as exc:  # the processor's timer runs it anyway
        log.warning("could not wake the processor (%s); it runs at its next period", type(exc).__name__)


def run_poll(task, app, redis, keys, pending: Pending, source_id: str, max_delay: float = 120.0) -> str:
    """The body of the poll task: poll ``source_id`` once; return its status."""
    if source_id not in {s.id for s in app.config.sources if s.enabled}:
        pending.release(source_id)
        log.warning("poll of %s dropped: not an enabled source of this worker's config", source_id)
        return "unknown"
    transient = transient_errors()
    try:
        report = app.poll_source(source_id)
        if report.status == "failed":
            _database_answers(app)  # the source failed, or the database is away: retried if so
    except transient as exc:
        if task.request.retries < MAX_RETRIES:
            delay = backoff(task.request.retries, max_delay)
            log.warning("poll of %s: %s; retry %d in %.0fs", source_id, type(exc).__name__,
                        task.request.retries + 1, delay)
            raise task.retry(exc=exc, countdown=delay, max_retries=MAX_RETRIES)
        pending.release(source_id)
        raise
    pending.release(source_id)
    if report.new or report.edited:  # something to score
        _ring(redis, keys, source_id)
    return report.status


def register_poll(celery, app, redis, keys, pending: Pending, visibility: timedelta):
    """Register the poll task on ``celery``, bound to this worker's ``app``; return it."""
    max_delay = min(120.0, visibility.total_seconds() / 2)

    @celery.task(name=POLL_TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
                 max_retries=MAX_RETRIES)
    def poll(task, source_id: str) -> str:
        return run_poll(task, app, redis, keys, pending, source_id, max_delay)

    return poll
