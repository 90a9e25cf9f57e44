"""``repwatch evidence recheck``: ask a stored mention's own URL again. 404 or 410 is a
removal the platform states, recorded as a tombstone (``how = "recheck"``) while the
mention row keeps the last copy; a 2xx answer means it is still there (an open tombstone
is then closed); anything else says nothing and changes nothing."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from monitor.app import App

GONE = (404, 410)


@dataclass(frozen=True)
class Recheck:
    known: bool  # the answer settled it: removed, or still there
    message: str


def recheck(app: App, mention_id: int) -> Recheck:
    ev = app.store.mention_evidence(mention_id)
    if ev is None:
        return Recheck(False, f"no mention {mention_id}")
    url = ev.mention.url
    if not url:
        return Recheck(False, f"mention {mention_id} has no URL of its own to ask")
    now = app.clock.now()
    try:
        resp = app.client.get(url, headers={"User-Agent": app.config.daemon.user_agent}, timeout=20)
    except httpx.HTTPError as exc:
        return Recheck(False, f"mention {mention_id}: no answer ({type(exc).__name__}); nothing recorded")
    status = resp.status_code
    if status in GONE:
        row = app.store.tombstone(mention_id, now, "recheck", f"HTTP {status} from {resp.url} at "
                                  f"{now:%Y-%m-%dT%H:%M:%SZ}")
        what = f"tombstone {row.id} recorded" if row else "already recorded as removed"
        return Recheck(True, f"mention {mention_id}: removed (HTTP {status}); {what}; the last copy is kept")
    if 200 <= status < 300:
        reopened = app.store.restore_tombstones(mention_id, now)
        return Recheck(True, f"mention {mention_id}: still there (HTTP {status})"
                             + (f"; {reopened} removal record(s) closed" if reopened else ""))
    return Recheck(False, f"mention {mention_id}: HTTP {status} says nothing about removal; nothing recorded")
