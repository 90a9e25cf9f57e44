"""``worker``, ``scheduler`` and ``processor``: the scaled-out deployment (:mod:`monitor.scale`);
``run`` with ``[scale] broker`` set is a scheduler and a processor in one process.

Each needs ``[scale] broker`` and PostgreSQL storage. Run any number of workers (each
polls ``[scale] concurrency`` sources at once, on threads: polls wait on the network, and
one process shares its HTTP and database pools), one or more schedulers and one or more
processors (one of each leads; the others stand by and take over within seconds).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

from monitor.cli.common import load, make_app
from monitor.errors import ConfigError, Problem

log = logging.getLogger("repwatch.scale")


def _scaled(path: str):
    """The config at ``path``, refused unless it can scale out."""
    config = load(path)
    problems = []
    if not config.scale.broker:
        problems.append(Problem(config.path, None, "scale.broker", 'is not set (e.g. "redis://127.0.0.1:6379/0"): '
                                "scale-out runs polls as Celery tasks through it"))
    if not config.storage.url.startswith("postgresql"):
        problems.append(Problem(config.path, None, "storage.url", "scale-out needs PostgreSQL: workers on several "
                                "machines share it, and the processor is elected with an advisory lock"))
    if problems:
        raise ConfigError(problems)
    return config


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_worker(args) -> int:
    from monitor.app import App
    from monitor.scale import Keys, Pending, RedisHostLimiter, make_celery, redis_client, register_poll
    from monitor.scale.celery_app import visibility_timeout

    config = _scaled(args.config)
    celery, redis, keys = make_celery(config), redis_client(config), Keys(config.scale.queue)
    limiter = RedisHostLimiter(redis, keys, dict(config.daemon.rate_limits))
    app = App.from_config(config, model=False, limiter=limiter)
    visibility = visibility_timeout(config)
    register_poll(celery, app, redis, keys, Pending(redis, keys, 2 * visibility), visibility)
    concurrency = args.concurrency or config.scale.concurrency
    log.info("worker: queue %s on %s, %d polls at once, storage %s", config.scale.queue,
             config.scale.redacted_broker, concurrency, config.storage.redacted_url)
    try:
        celery.worker_main(["worker", "--pool=threads", f"--concurrency={concurrency}",
                            f"--queues={config.scale.queue}", "--without-gossip", "--without-mingle",
                            f"--loglevel={args.log_level.upper()}", f"--hostname=repwatch-{os.getpid()}@%h"])
    finally:
        app.close()
    return 0


def cmd_scheduler(args) -> int:
    _schedule(_scaled(args.config), _stop_on_signals())
    return 0


def _schedule(config, stop: threading.Event) -> None:
    """Queue due polls while this process leads the schedulers, until ``stop``."""
    from monitor.scale import POLL_TASK, AdvisoryLock, Keys, Pending, Scheduler, make_celery, redis_client
    from monitor.scale.celery_app import visibility_timeout

    celery, redis, keys = make_celery(config), redis_client(config), Keys(config.scale.queue)
    pending = Pending(redis, keys, 2 * visibility_timeout(config))
    lock = AdvisoryLock(config.storage.url, "scheduler")
    while not stop.is_set():
        if not lock.try_acquire():
            stop.wait(2.0)
            continue
        log.info("scheduler %s leads: %d sources", lock.holder, sum(1 for s in config.sources if s.enabled))
        schedule = Scheduler(config, lambda i: celery.send_task(POLL_TASK, args=[i], queue=config.scale.queue),
                             pending, start=_now())
        try:
            while not stop.is_set() and lock.alive():
                try:
                    schedule.tick(_now())
                except Exception as exc:  # Redis away: the next tick tries again
                    log.error("scheduler: %s: %s", type(exc).__name__, exc)
                stop.wait(1.0)
        finally:
            lock.release()


def cmd_processor(args) -> int:
    _process(_scaled(args.config), _stop_on_signals())
    return 0


def run_scaled(args) -> int:
    """``repwatch run`` when ``[scale] broker`` is set: the daemon in scale-out mode. It
    queues due polls (as ``repwatch scheduler``) and processes (as ``repwatch processor``),
    each while it is elected, and polls nothing itself: ``repwatch worker`` processes do."""
    config = _scaled(args.config)
    stop = _stop_on_signals()
    log.info("run: [scale] broker %s is set: scheduling polls for repwatch workers and processing here; no "
             "polls run in this process", config.scale.redacted_broker)
    scheduler = threading.Thread(target=_schedule, args=(config, stop), name="scale-scheduler", daemon=True)
    scheduler.start()
    try:
        _process(config, stop)
    finally:
        stop.set()
        scheduler.join(5)
    return 0


def _process(config, stop: threading.Event) -> None:
    """Process while this process leads the processors, until ``stop``."""
    from monitor.scale import AdvisoryLock, Keys, Processor, redis_client

    app = make_app(config)
    lock = AdvisoryLock(config.storage.url, "processor")
    processor = Processor(app, lock, redis_client(config), Keys(config.scale.queue), config.scale.process_every)
    log.info("processor %s: standing by for the processor lock (model %s)", lock.holder, app.scorer.name)
    started = time.monotonic()
    try:
        processor.run(stop)
    finally:
        app.close()
    log.info("processor stopped after %.0fs, %d runs", time.monotonic() - started, processor.runs)


def _now():
    from monitor.clock import SystemClock

    return SystemClock().now()
