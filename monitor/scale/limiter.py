"""``[daemon] rate_limits`` across every worker: one token bucket per host in Redis.

:class:`connectors.http.HostLimiter` keeps its buckets in the process, so N workers would
send N times the limit. :class:`RedisHostLimiter` keeps the same bucket (same rates, same
reservation rule: a request takes its token now and waits for it if the bucket is empty,
so later callers queue behind it) in a Redis hash per host, updated by one Lua script, so
two workers asking at once are ordered by Redis and the limit holds for all of them
together. Time is Redis's own clock (``TIME``), so the workers' clocks need not agree.

Why not Celery's ``rate_limit``: it is per worker instance and per task type, not global,
and it paces tasks, while a poll may send several requests (pages, retries) to a host and
several sources share a host. The bucket is taken where each request is sent
(:class:`connectors.http.Transport`), whichever task sends it.

If Redis cannot be reached, the request waits on this process's own bucket instead (a
warning says so): the limit then holds per worker, never not at all.
"""
from __future__ import annotations

import logging
import math

from connectors.http import HostLimiter

log = logging.getLogger("repwatch.scale")

# KEYS[1]: the bucket; ARGV: requests, period (seconds). Returns the wait in seconds (a string:
# Lua numbers come back from Redis as integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local count = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local per_token = period / count
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or count
local at = tonumber(b[2]) or now
tokens = math.min(count, tokens + math.max(0, now - at) / per_token)
local wait = 0
if tokens < 1 then wait = (1 - tokens) * per_token end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(period + wait) + 1)
return tostring(wait)
"""


class RedisHostLimiter(HostLimiter):
    """A :class:`HostLimiter` whose buckets live in Redis under ``keys.bucket(host)``."""

    def __init__(self, redis, keys, rates=None, **kw):
        super().__init__(rates, **kw)
        self.redis = redis
        self.keys = keys
        self._take = redis.register_script(_TAKE)

    def acquire(self, host: str) -> float:
        """Take one token for ``host`` from the shared bucket, waiting if needed; return the wait."""
        rate = self.rate_for(host)
        if rate is None:
            return 0.0
        count, period = rate
        try:
            wait = float(self._take(keys=[self.keys.bucket(host.lower())], args=[count, period]))
        except Exception as exc:  # redis away: pace this process at least
            log.warning("rate limit of %s: Redis unavailable (%s); using this worker's own bucket", host,
                        type(exc).__name__)
            return super().acquire(host)
        if wait > 0 and math.isfinite(wait):
            self.sleep(wait)
        return wait
