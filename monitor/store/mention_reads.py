"""Reading mentions back: for the rules' windows, pages, digests and display."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import func
from sqlmodel import select

from monitor.causes import parse_causes
from monitor.mention import canonical_url
from monitor.store.core import StoreBase
from monitor.store.mentions import StoredMention
from monitor.store.tables import MentionEntityRow, MentionRow, MentionVersionRow


class MentionQueries(StoreBase):
    """Queries over mentions."""

    def mention_versions(self, mention_id: int) -> list[MentionVersionRow]:
        """The earlier forms of an edited mention, oldest first."""
        return self._select(MentionVersionRow, MentionVersionRow.mention_id == mention_id,
                         order_by=MentionVersionRow.version)

    def unscored(self, limit: int) -> list[MentionRow]:
        with self.session() as s:
            q = select(MentionRow).where(MentionRow.sentiment_label.is_(None)).order_by(MentionRow.id).limit(limit)
            return list(s.exec(q))

    def corrections(self) -> list[MentionRow]:
        """Every mention a human has labelled, oldest first (for ``repwatch sentiment adapt``)."""
        return self._select(MentionRow, MentionRow.human_label.is_not(None), order_by=MentionRow.id)

    def negative_mentions(
        self, entity_id: str, since: datetime, until: datetime, threshold: float
    ) -> list[StoredMention]:
        """Mentions of one entity with P(negative) >= threshold and event time in (since, until]."""
        with self.session() as s:
            q = (
                select(MentionRow)
                .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
                .where(MentionEntityRow.entity_id == entity_id)
                .where(MentionRow.negative_score >= threshold)
                .where(MentionRow.event_at > since)
                .where(MentionRow.event_at <= until)
                .where(MentionRow.backfill.is_not(True))
                .order_by(MentionRow.negative_score.desc(), MentionRow.id)
            )
            return [self._view(r, (entity_id,)) for r in s.exec(q)]

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
    def _view(r: MentionRow, entities: tuple[str, ...]) -> StoredMention:
        return StoredMention(
            id=r.id, source_id=r.source_id, title=r.title, text=r.text, url=r.url,
            event_at=r.event_at, detected_at=r.detected_at, label=r.sentiment_label,
            negative_score=r.negative_score, entities=entities, rating=r.rating,
            causes=parse_causes(r.causes), verdict_by=r.verdict_by, model_label=r.model_label,
            model_negative=r.model_negative, backfill=bool(r.backfill), parent_url=r.parent_url, author=r.author,
        )

    def entity_mentions(self, entity_id: str, detected_since: datetime, until: datetime) -> list[StoredMention]:
        """Scored mentions of one entity detected in (since, until]."""
        with self.session() as s:
            q = (
                select(MentionRow)
                .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
                .where(MentionEntityRow.entity_id == entity_id)
                .where(MentionRow.sentiment_label.is_not(None))
                .where(MentionRow.backfill.is_not(True))
                .where(MentionRow.detected_at > detected_since, MentionRow.detected_at <= until)
                .order_by(MentionRow.id)
            )
            return [self._view(r, (entity_id,)) for r in s.exec(q)]

    def detected_with_entities(self, since: datetime, until: datetime) -> list[tuple[StoredMention, str]]:
        """(mention, entity id) for every mention detected in (since, until]; a mention about
        two entities comes twice."""
        with self.session() as s:
            q = (select(MentionRow, MentionEntityRow.entity_id)
                 .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
                 .where(MentionRow.detected_at > since, MentionRow.detected_at <= until))
            return [(self._view(row, (entity_id,)), entity_id) for row, entity_id in s.exec(q)]

    def count_negative(self, entity_id: str, since: datetime, until: datetime, threshold: float,
                       causes: Sequence[str] = ()) -> int:
        """Negative mentions of an entity in (since, until], backfill included (history is what
        a baseline is made of); only those with one of ``causes`` when given."""
        import sqlalchemy as sa

        with self.session() as s:
            q = (
                select(func.count())
                .select_from(MentionRow)
                .join(MentionEntityRow, MentionEntityRow.mention_id == MentionRow.id)
                .where(MentionEntityRow.entity_id == entity_id, MentionRow.negative_score >= threshold)
                .where(MentionRow.event_at > since, MentionRow.event_at <= until)
            )
            if causes:  # cause names are distinct words, none inside another
                q = q.where(sa.or_(*(MentionRow.causes.like(f"%{c}%") for c in causes)))
            return s.exec(q).one()

    def count_backfill(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self.session() as s:
            q = select(func.count()).select_from(MentionRow).where(MentionRow.id.in_(list(ids)),
                                                                   MentionRow.backfill.is_(True))
            return s.exec(q).one()
