"""The store stage's evidence step: after a poll stored its mentions, keep the raw responses
they came from and apply the fetch's listing (:meth:`monitor.store.Store.keep_evidence`)."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Collection, Sequence

from monitor.mention import FetchResult
from monitor.store import Store, describe_error

log = logging.getLogger("repwatch.evidence")


def keep_evidence(store: Store, source_id: str, result: FetchResult, ids: Sequence[int], at: datetime,
                  fresh: Collection[int] = ()) -> list[str]:
    """Write the evidence of one poll; the warnings to report against the source (a failure
    here never undoes the stored mentions: they are committed already). ``fresh``: the ids
    this poll inserted."""
    if not result.ok or not (result.raw or result.listing):
        return []
    try:
        counts = store.keep_evidence(source_id, result, ids, at, fresh)
    except Exception as exc:
        return [f"evidence not kept: {describe_error(exc)}"]
    if counts.tombstoned:
        log.info("source %s: %d mentions removed from the listing (tombstones: %s)", source_id,
                 len(counts.tombstoned), ", ".join(map(str, counts.tombstoned)))
    if counts.restored:
        log.info("source %s: %d removed mentions listed again (%s)", source_id, len(counts.restored),
                 ", ".join(map(str, counts.restored)))
    return []
