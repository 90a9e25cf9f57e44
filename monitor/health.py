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

:func:`record_fetch` is how a fetch changes a source's state (the store only stores it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import Source, format_duration
from monitor.mention import FetchResult
from monitor.store import SourceStateRow, Store

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


# a failed fetch's status as the source's state keeps it; anything else is "failing"
_FAILED_STATUS = {"rate_limited": "rate_limited", "blocked": "blocked", "auth_failed": "auth_failed"}


def record_fetch(store: Store, source_id: str, result: FetchResult, new_mentions: int, at: datetime,
                 digest: str | None = None, backfilled: int = 0, seen: SourceStateRow | None = None) -> tuple[str, str]:
    """Update a source's state after a fetch, in one transaction; return (previous status, new
    status). ``seen``: the state read before the fetch (see ``Store.change_source_state``)."""
    return store.change_source_state(
        source_id, lambda row: apply_fetch(row, result, new_mentions, at, digest, backfilled), seen)


def apply_fetch(row: SourceStateRow, result: FetchResult, new_mentions: int, at: datetime,
                digest: str | None = None, backfilled: int = 0) -> None:
    """What a fetch does to a source's state: counters, health, and (after a full success)
    the conditional-GET validators and cursor; a failure keeps the last good ones."""
    row.backfilled = (row.backfilled or 0) + backfilled
    row.last_poll_at = at
    if digest is not None:
        row.config_digest = digest
    if result.status == "ok":
        row.last_warnings = "\n".join(result.warnings)[:4000] or None
    if new_mentions:
        row.first_new_at = row.first_new_at or at
        row.last_new_at = at
    row.not_before = result.retry_after  # a spent rate budget, reported with good data or with an error
    if not result.ok:
        row.status = _FAILED_STATUS.get(result.status, "failing")
        row.consecutive_failures += 1
        row.last_error, row.last_error_at = result.error, at
        return
    row.status, row.last_success_at, row.consecutive_failures = "ok", at, 0
    if result.status == "ok":
        row.etag, row.last_modified = result.etag, result.last_modified
        if result.cursor is not None:
            row.cursor = result.cursor
    row.last_new_mentions = new_mentions
    row.total_mentions += new_mentions
