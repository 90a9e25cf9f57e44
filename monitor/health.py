"""Source health: silence is not calm.

A source is one of: ``new`` (never polled), ``ok``, ``failing`` (errors, including
rate limiting, since the last success), ``blocked`` (an anti-bot wall), ``auth-failed``
(credentials refused: polling stops until the source's config or credentials change),
``silent`` (polls succeed but nothing new has arrived for longer than the source's
expected period), or ``disabled``.

The expected period is ``silent_after`` from the config, or learned from the source's
own history once it has brought 10 mentions: five times its average gap between new
mentions, at least four polling intervals and at least six hours. A source with no
history and no ``silent_after`` is never called silent (it may simply be quiet).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import Source, format_duration
from monitor.store import SourceStateRow

LEARN_AFTER = 10
MIN_EXPECTED = timedelta(hours=6)


@dataclass(frozen=True)
class Health:
    state: str
    reason: str
    expected: timedelta | None = None

    @property
    def problem(self) -> bool:
        return self.state in ("failing", "blocked", "auth-failed", "silent")


def expected_period(source: Source, row: SourceStateRow | None) -> timedelta | None:
    if source.silent_after is not None:
        return source.silent_after
    if row is None or row.total_mentions < LEARN_AFTER or not row.first_new_at or not row.last_new_at:
        return None
    span = row.last_new_at - row.first_new_at
    if span <= timedelta(0):
        return None
    gap = span / (row.total_mentions - 1)
    return max(gap * 5, source.every * 4, MIN_EXPECTED)


def source_health(source: Source, row: SourceStateRow | None, now: datetime) -> Health:
    if not source.enabled:
        return Health("disabled", "disabled in the config")
    if row is None or row.last_poll_at is None:
        return Health("new", "not polled yet")
    if row.status == "auth_failed":
        stale = row.config_digest not in (None, source.digest)
        why = "credentials refused" + ("; the config changed, retrying" if stale else
                                       "; polling stopped until the source's config or credentials change")
        return Health("auth-failed", f"{why} ({row.last_error})")
    if row.status == "blocked":
        return Health("blocked", f"blocked by an anti-bot wall ({row.last_error}); backing off")
    if row.status in ("failing", "rate_limited"):
        return Health("failing", f"{row.consecutive_failures} failed polls in a row ({row.last_error})")
    expected = expected_period(source, row)
    if expected is not None:
        since = row.last_new_at or row.last_success_at
        if since is not None and now - since > expected:
            return Health("silent", f"no new mention for {format_duration(now - since)} "
                                    f"(expected within {format_duration(expected)})", expected)
    return Health("ok", "ok", expected)
