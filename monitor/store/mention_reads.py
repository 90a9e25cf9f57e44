"""Reading mentions back: for the rules' windows, pages, digests and display."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import func, or_
from sqlmodel import select

from monitor.causes import parse_causes
from monitor.mention import canonical_url
from monitor.store.core import StoreBase
from monitor.store.mentions import StoredMention
from monitor.store.tables import MentionEntityRow, MentionRow, MentionVersionRow


# what a StoredMention is made of: the window queries read these columns, not whole ORM rows
_VIEW = tuple(MentionRow.__table__.c[name] for name in (
    "id", "source_id", "title", "text", "url", "event_at", "detected_at", "sentiment_label", "negative_score",
    "rating", "causes", "verdict_by", "model_label", "model_negative", "backfill", "parent_url", "author"))


class MentionQueries(StoreBase):
    """Queries over mentions."""

    def mention_versions(self, mention_id: int) -> list[MentionVersionRow]:
        """The earlier forms of an edited mention, oldest first."""
        return self._select(MentionVersionRow, MentionVersionRow.mention_id == mention_id,
                         order_by=MentionVersionRow.version)

    def unscored(self, limit: int, backfill: bool | None = None) -> list[MentionRow]:
        """The oldest ``limit`` mentions without a verdict; ``backfill`` True or False keeps
        only history (a source's first poll, old items) or only live mentions. The ids come
        from the partial index of unscored mentions alone (asked for the whole rows at once,
        SQLite's planner walks the table in id order instead), so finding none costs nothing
        whatever the history."""
        with self.session() as s:
            ids = select(MentionRow.id).where(MentionRow.sentiment_label.is_(None))
            if backfill is True:
                ids = ids.where(MentionRow.backfill.is_(True))
            elif backfill is False:
                ids = ids.where(or_(MentionRow.backfill.is_(None), MentionRow.backfill.is_(False)))
            ids = ids.order_by(MentionRow.id).limit(limit)
            q = select(MentionRow).where(MentionRow.id.in_(ids.scalar_subquery())).order_by(MentionRow.id)
            return list(s.exec(q))

    def corrections(self) -> list[MentionRow]:
        """Every mention a human has labelled, oldest first (for ``repwatch sentiment adapt``)."""
        return self._select(MentionRow, MentionRow.human_label.is_not(None), order_by=MentionRow.id)

    def negative_mentions(
        self, entity_id: str, since: datetime, until: datetime, threshold: float
    ) -> list[StoredMention]:
        """Mentions of one entity with P(negative) >= threshold and event time in (since, until]."""
        return self.window_negatives([entity_id], since, until, threshold).get(entity_id, [])

    def window_negatives(self, entity_ids: Sequence[str], since: datetime, until: datetime,
                         threshold: float) -> dict[str, list[StoredMention]]:
        """Per entity: its mentions with P(negative) >= threshold and event time in (since,
        until], backfill left out, worst first. One query for all the entities; it reads
        the window's links alone (index (entity_id, event_at)), then their mentions."""
        link = MentionEntityRow
        q = (select(*_VIEW, link.entity_id).join(link, link.mention_id == MentionRow.id)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(link.negative_score >= threshold, link.backfill.is_not(True))
             .order_by(MentionRow.negative_score.desc(), MentionRow.id))
        return self._by_entity(q)

    def window_detected(self, entity_ids: Sequence[str], since: datetime,
                        until: datetime) -> dict[str, list[StoredMention]]:
        """Per entity: its scored mentions detected in (since, until], backfill left out, in
        id order. One query; it reads the window's links alone (index (entity_id, detected_at))."""
        link = MentionEntityRow
        q = (select(*_VIEW, link.entity_id).join(link, link.mention_id == MentionRow.id)
             .where(link.entity_id.in_(list(entity_ids)), link.detected_at > since, link.detected_at <= until)
             .where(link.scored.is_(True), link.backfill.is_not(True))
             .order_by(MentionRow.id))
        return self._by_entity(q)

    def _by_entity(self, q) -> dict[str, list[StoredMention]]:
        out: dict[str, list[StoredMention]] = {}
        with self.session() as s:
            for row in s.execute(q):
                out.setdefault(row.entity_id, []).append(self._view(row, (row.entity_id,)))
        return out

    def negative_counts(self, entity_ids: Sequence[str], since: datetime, until: datetime, threshold: float,
                        causes: Sequence[str] = ()) -> dict[str, int]:
        """Per entity: how many of its mentions in (since, until] are negative, backfill included
        (history is what a baseline is made of); only those with one of ``causes`` when given.
        A COUNT grouped by entity, read from the index (entity_id, event_at, negative_score)
        alone unless ``causes`` asks for the mentions' causes. Entities with none are absent."""
        link = MentionEntityRow
        q = (select(link.entity_id, func.count()).select_from(link)
             .where(link.entity_id.in_(list(entity_ids)), link.event_at > since, link.event_at <= until)
             .where(link.negative_score >= threshold).group_by(link.entity_id))
        if causes:  # cause names are distinct words, none inside another
            q = (q.join(MentionRow, MentionRow.id == link.mention_id)
                 .where(or_(*(MentionRow.causes.like(f"%{c}%") for c in causes))))
        with self.session() as s:
            return {entity_id: n for entity_id, n in s.exec(q)}

    def mentions(self, since: datetime | None = None, limit: int = 200) -> list[StoredMention]:
        with self.session() as s:
            q = select(MentionRow).order_by(MentionRow.event_at.desc(), MentionRow.id.desc()).limit(limit)
            if since is not None:
                q = q.where(MentionRow.event_at >= since)
            rows = list(s.exec(q))
            links: dict[int, list[str]] = {}
            if rows:
                lq = select(MentionEntityRow).where(MentionEntityRow.mention_id.in_([r.id for r in rows]))
                for link in s.exec(lq):
                    links.setdefault(link.mention_id, []).append(link.entity_id)
            return [self._view(r, tuple(links.get(r.id, ()))) for r in rows]

    def get_mentions(self, ids: Iterable[int]) -> list[StoredMention]:
        ids = list(ids)
        if not ids:
            return []
        with self.session() as s:
            rows = s.exec(select(MentionRow).where(MentionRow.id.in_(ids)))
            return [self._view(r, ()) for r in rows]

    def entities_for_url(self, url: str | None) -> list[str]:
        """The entities a stored mention with this (canonical) URL is about."""
        if not url:
            return []
        with self.session() as s:
            q = (select(MentionEntityRow.entity_id)
                 .join(MentionRow, MentionEntityRow.mention_id == MentionRow.id)
                 .where(MentionRow.url_key == canonical_url(url)))
            return sorted(set(s.exec(q)))

    def count_mentions(self) -> int:
        with self.session() as s:
            return s.exec(select(func.count()).select_from(MentionRow)).one()

    @staticmethod
    def _view(r, entities: tuple[str, ...]) -> StoredMention:
        """``r``: a MentionRow, or a row of the columns in ``_VIEW``."""
        return StoredMention(
            id=r.id, source_id=r.source_id, title=r.title, text=r.text, url=r.url,
            event_at=r.event_at, detected_at=r.detected_at, label=r.sentiment_label,
            negative_score=r.negative_score, entities=entities, rating=r.rating,
            causes=parse_causes(r.causes), verdict_by=r.verdict_by, model_label=r.model_label,
            model_negative=r.model_negative, backfill=bool(r.backfill), parent_url=r.parent_url, author=r.author,
        )

    def detected_with_entities(self, since: datetime, until: datetime) -> list[tuple[StoredMention, str]]:
        """(mention, entity id) for every mention detected in (since, until]; a mention about
        two entities comes twice."""
        with self.session() as s:
            q = (select(MentionRow, MentionEntityRow.entity_id)
                 .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
                 .where(MentionRow.detected_at > since, MentionRow.detected_at <= until))
            return [(self._view(row, (entity_id,)), entity_id) for row, entity_id in s.exec(q)]

    def count_backfill(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self.session() as s:
            q = select(func.count()).select_from(MentionRow).where(MentionRow.id.in_(list(ids)),
                                                                   MentionRow.backfill.is_(True))
            return s.exec(q).one()
