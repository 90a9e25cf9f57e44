"""The reads of the ``attack`` rule (:mod:`monitor.alerting.attack`): a listing's window of
mentions, its low ratings over the baseline before it, and which accounts it saw then.

Each is one query for all the rule's entities that starts from the entity links' index
(entity_id, event_at, ...) (revision 0008), so it reads the window or the baseline of the
entities asked about and never the whole mentions table; ratings and authors come from
the mentions by primary key."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func
from sqlmodel import select

from monitor.store.mention_reads import _VIEW, MentionQueries
from monitor.store.mentions import StoredMention
from monitor.store.tables import MentionEntityRow, MentionRow


class AttackQueries(MentionQueries):
    """Window and baseline reads for attack detection."""

    def window_mentions(self, entity_ids: Sequence[str], since: datetime,
                        until: datetime) -> dict[str, list[StoredMention]]:
        """Per entity: its mentions with event time in (since, until], backfill left out,
        in id order, whatever their verdict (ratings and texts are what is compared)."""
        link = MentionEntityRow
        q = (select(*_VIEW, link.entity_id).join(link, link.mention_id == MentionRow.id)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(link.backfill.is_not(True))
             .order_by(MentionRow.id))
        return self._by_entity(q)

    def low_rating_counts(self, entity_ids: Sequence[str], since: datetime, until: datetime,
                          max_rating: float) -> dict[str, dict[str, int]]:
        """Per entity, per source: its mentions rated at most ``max_rating`` with event time in
        (since, until], backfill included (history is what a baseline is made of). Entities
        and sources with none are absent."""
        link = MentionEntityRow
        q = (select(link.entity_id, MentionRow.source_id, func.count()).select_from(link)
             .join(MentionRow, MentionRow.id == link.mention_id)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(MentionRow.rating.is_not(None), MentionRow.rating <= max_rating)
             .group_by(link.entity_id, MentionRow.source_id))
        out: dict[str, dict[str, int]] = {}
        with self.session() as s:
            for entity_id, source_id, n in s.exec(q):
                out.setdefault(entity_id, {})[source_id] = n
        return out

    def known_authors(self, entity_ids: Sequence[str], since: datetime, until: datetime,
                      authors: Sequence[str]) -> dict[str, set[str]]:
        """Per entity: which of ``authors`` (as stored) have a mention of it with event time
        in (since, until]."""
        if not authors:
            return {}
        link = MentionEntityRow
        q = (select(link.entity_id, MentionRow.author).distinct()
             .join(MentionRow, MentionRow.id == link.mention_id)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(MentionRow.author.in_(sorted(set(authors)))))
        out: dict[str, set[str]] = {}
        with self.session() as s:
            for entity_id, author in s.exec(q):
                out.setdefault(entity_id, set()).add(author)
        return out
