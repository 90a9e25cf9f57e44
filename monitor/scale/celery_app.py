"""The Celery app of ``[scale]``, and repwatch's own keys in the same Redis.

Delivery guarantees come from the broker's settings, written here once:

* ``task_acks_late``: a poll's message is acknowledged when the poll has finished, so a
  worker that dies mid-poll (``kill -9``, a lost machine) leaves it unacknowledged;
* Redis redelivers an unacknowledged message after ``visibility_timeout``, which is longer
  than every source's timeout (the poll's deadline), so a live worker's poll is never
  handed to a second one; workers scan for such messages every ``visibility / 5`` seconds;
* ``worker_prefetch_multiplier = 1``: a worker reserves no more polls than it has threads,
  so a busy worker never sits on polls an idle one could run, and a dead one strands few;
* ``task_reject_on_worker_lost``: a prefork child that dies has its poll requeued at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from monitor.config import Config

MIN_VISIBILITY = timedelta(minutes=5)


def visibility_timeout(config: Config) -> timedelta:
    """``[scale] visibility_timeout``, or three times the longest source timeout (at least 5m)."""
    if config.scale.visibility_timeout is not None:
        return config.scale.visibility_timeout
    longest = max((s.timeout for s in config.sources), default=timedelta(0))
    return max(MIN_VISIBILITY, 3 * longest)


@dataclass(frozen=True)
class Keys:
    """repwatch's own Redis keys, under the queue's name (two deployments can share a Redis)."""

    queue: str

    def pending(self, source_id: str) -> str:
        return f"{self.queue}:pending:{source_id}"

    def bucket(self, host: str) -> str:
        return f"{self.queue}:bucket:{host}"

    @property
    def wake(self) -> str:
        return f"{self.queue}:wake"


def make_celery(config: Config):
    """The Celery app of ``config.scale`` (its broker must be set)."""
    from celery import Celery

    scale = config.scale
    if not scale.broker:
        raise ValueError("[scale] broker is not set")
    visibility = visibility_timeout(config).total_seconds()
    app = Celery("repwatch", broker=scale.broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=scale.queue,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_concurrency=scale.concurrency,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(60, int(visibility / 5))),
            "unacked_restore_throttle": 1,  # scan every interval, not every tenth
        },
    )
    return app


def redis_client(config: Config):
    """A client of the broker's Redis, for repwatch's own keys."""
    import redis

    return redis.Redis.from_url(config.scale.broker, socket_timeout=30, socket_connect_timeout=10,
                                health_check_interval=30)
