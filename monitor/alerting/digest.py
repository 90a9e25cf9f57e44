"""Daily digests: at each route's ``digest_at`` (its local time), counts by entity, source
and cause for the last 24 hours, the worst mentions and the open incidents. A digest
more than :data:`DIGEST_GRACE` late is skipped, not sent at a strange hour."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.alerting.outgoing import queue
from monitor.alerting.status import NoteKind
from monitor.causes import CAUSES
from monitor.config import Config, Route
from monitor.render import IncidentView, Message, digest_message
from monitor.store import NotificationRow, Store, StoredMention

DIGEST_GRACE = timedelta(hours=6)


def digest_due(route: Route, last_sent: datetime | None, now: datetime) -> bool:
    """Whether ``route``'s digest for the latest ``digest_at`` has yet to go out."""
    if route.digest_at is None:
        return False
    local = now.astimezone(ZoneInfo(route.timezone))
    due = local.replace(hour=route.digest_at[0], minute=route.digest_at[1], second=0, microsecond=0)
    if local < due:
        due -= timedelta(days=1)
    if last_sent is not None and last_sent >= due.astimezone(now.tzinfo):
        return False
    return now - due <= DIGEST_GRACE  # far too late (down, or just started): wait for the next one


class Digests:
    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store

    def run(self, now: datetime) -> list[int]:
        out = []
        for route in self.config.routes:
            last = self.store.last_digest(route.id) if route.digest_at is not None else None
            if digest_due(route, last.created_at if last else None, now):
                out.append(self.send(route, now).id)
        return out

    def send(self, route: Route, now: datetime) -> NotificationRow:
        """Queue a digest, recorded by a marker alert written with it."""
        return queue(self.store, route, NoteKind.DIGEST, self.message(route, now), now,
                     marker=self.store.digest_marker(route.id, now))

    def message(self, route: Route, now: datetime) -> Message:
        threshold = self.config.sentiment.negative_threshold
        names = {e.id: e.name for e in self.config.entities}
        by_entity: dict[str, list[int]] = {}
        by_source: dict[str, list[int]] = {}
        worst: list[StoredMention] = []
        seen: set[int] = set()
        for mention, entity_id in self.store.detected_with_entities(now - timedelta(days=1), now):
            negative = mention.negative_score is not None and mention.negative_score >= threshold
            e = by_entity.setdefault(entity_id, [0, 0])
            e[0] += 1
            e[1] += negative
            if mention.id in seen:
                continue
            seen.add(mention.id)
            src = by_source.setdefault(mention.source_id, [0, 0])
            src[0] += 1
            src[1] += negative
            if negative:
                worst.append(mention)
        worst.sort(key=lambda m: -(m.negative_score or 0))
        causes = Counter(c for m in worst for c in m.causes)
        incidents = [IncidentView(i.id, names.get(i.entity_id, i.entity_id), i.status, i.acked_by, i.deadline)
                     for i in self.store.incidents(open_only=True)]
        day = now.astimezone(ZoneInfo(route.timezone)).strftime("%Y-%m-%d")
        return digest_message(
            day, sorted(((names.get(k, k), v[0], v[1]) for k, v in by_entity.items()), key=lambda r: (-r[2], -r[1])),
            sorted(((k, v[0], v[1]) for k, v in by_source.items()), key=lambda r: (-r[2], -r[1])),
            worst[:5], incidents, route.language, route.timezone,
            sorted(causes.items(), key=lambda kv: (-kv[1], CAUSES.index(kv[0]))))
