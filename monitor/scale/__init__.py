"""Scale-out on Celery: polls as tasks on any number of ``repwatch worker`` processes that
share one PostgreSQL database, when ``[scale] broker = "redis://…"`` is set.

    repwatch scheduler ──(one task per due poll, never two pending for a source)──► Redis
    Redis ──► repwatch worker × N ── App.poll_source ──► PostgreSQL (insert-once by key)
                                  └── "something new" ──► Redis wake list
    repwatch processor × M: the one holding the PostgreSQL advisory lock runs App.process

* :mod:`.celery_app`: the Celery app from ``[scale]`` (acks late, prefetch 1, a visibility
  timeout longer than every source's timeout) and repwatch's own Redis keys.
* :mod:`.tasks`: the poll task (retries with backoff while the database is away) and the
  pending marks that de-duplicate queued polls.
* :mod:`.limiter`: ``[daemon] rate_limits`` as token buckets in Redis, so one limit holds
  across every worker.
* :mod:`.scheduler`: due times (fixed periods, jittered starts) and the enqueue loop.
* :mod:`.election`: ``pg_try_advisory_lock`` on a connection held for the leader's life.
* :mod:`.processor`: the processing loop of the elected processor, with failover.
"""
from monitor.scale.celery_app import Keys, make_celery, redis_client, visibility_timeout
from monitor.scale.election import AdvisoryLock, leader
from monitor.scale.limiter import RedisHostLimiter
from monitor.scale.processor import Processor
from monitor.scale.scheduler import Scheduler
from monitor.scale.tasks import POLL_TASK, Pending, register_poll

__all__ = ["AdvisoryLock", "Keys", "POLL_TASK", "Pending", "Processor", "RedisHostLimiter", "Scheduler",
           "leader", "make_celery", "redis_client", "register_poll", "visibility_timeout"]
