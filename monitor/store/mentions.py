"""Mentions: stored once, edited in place (earlier forms kept), scored, labelled by a human;
:class:`StoredMention` is how they are read back (:mod:`monitor.store.mention_reads`)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Sequence

from sqlalchemy import bindparam, func, text
from sqlmodel import Session, select

from monitor.mention import Mention, canonical_url, clean_url
from monitor.store.core import StoreBase
from monitor.store.engine import describe_error
from monitor.store.tables import MentionEntityRow, MentionRow, MentionTallyRow, MentionVersionRow

if TYPE_CHECKING:
    from monitor.matching import Match

log = logging.getLogger("repwatch.storage")

# what a verdict is made of: cleared when a mention's text is edited, so it is scored again
_VERDICT_COLUMNS = ("sentiment_label", "sentiment_score", "negative_score", "verdict_by", "causes", "model_label",
                    "model_negative", "scored_by", "scored_at")
_MENTIONS_LOCK = 0x72657077  # PostgreSQL advisory lock held while mentions are written ("repw")
_LINKS = MentionEntityRow.__table__
# a mention's verdict, copied onto its entity links (see MentionEntityRow) by every write that changes it
_SYNC_LINKS = (_LINKS.update().where(_LINKS.c.mention_id == bindparam("m_id"))
               .values(negative_score=bindparam("m_negative"), scored=bindparam("m_scored")))


@dataclass(frozen=True)
class StoredMention:
    """A mention read back for rules and display."""

    id: int
    source_id: str
    title: str
    text: str
    url: str | None
    event_at: datetime
    detected_at: datetime
    label: str | None
    negative_score: float | None
    entities: tuple[str, ...] = ()
    rating: float | None = None
    causes: tuple[str, ...] = ()
    verdict_by: str | None = None
    model_label: str | None = None
    model_negative: float | None = None
    backfill: bool = False
    parent_url: str | None = None
    author: str | None = None


def _older(published: datetime | None, before: datetime | None) -> bool:
    return before is not None and published is not None and published < before


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


_INSERT_MENTION: dict[str, object] = {}  # dialect -> the statement, built once (its values come per row)


def _insert_mention(dialect: str):
    """INSERT a mention unless its fingerprint is stored, RETURNING its id (nothing when it was)."""
    if dialect not in _INSERT_MENTION:
        _INSERT_MENTION[dialect] = (_insert(dialect)(MentionRow.__table__)
                                    .on_conflict_do_nothing(index_elements=["fingerprint"])
                                    .returning(MentionRow.__table__.c.id))
    return _INSERT_MENTION[dialect]


class MentionsRepo(StoreBase):
    """Writing mentions: insert once, edits, verdicts and human labels. Each write also keeps,
    in its own transaction, the entity links' copy of the rule columns and the per-source
    tallies (stored, negative verdict) that ``/metrics`` reads."""

    def add_mentions(self, items: Iterable[tuple[Mention, Sequence[Match]]], detected_at: datetime,
                     backfill_all: bool = False, backfill_before: datetime | None = None, *,
                     problems: list[str] | None = None, edited: list[int] | None = None) -> list[int]:
        """Insert mentions not seen before; return the ids of the new rows.

        Identity, in order:

        * the ``fingerprint`` (guid, else canonical URL, else content; UNIQUE, with INSERT ..
          ON CONFLICT DO NOTHING as the last guard). A known fingerprint whose title, text or
          rating changed is an *edit* (a guid-identified item only): the row keeps its id, so
          its alerts and incidents stay valid, takes the new content, the previous content is
          kept in ``mention_versions``, and its verdict is cleared so it is scored again (a
          human label stays and wins). Its id goes to ``edited``, not to the result.
        * the canonical URL (``url_key``): a mention whose URL another *source* has already
          stored is the same article (a feed item with a GUID and the Google Alerts hit for
          it; m. and www. links) and is not stored again. Within one source its own identity
          decides: two reviews that share a page URL are two reviews.

        The lookups and inserts are serialised (a lock in this process; across processes a
        transaction-level advisory lock on PostgreSQL, the write lock taken first on SQLite). The batch is one transaction;
        when it fails, the items are stored one at a time, and an item that still fails is
        left out and described in ``problems`` (logged when None). When nothing can be
        stored the error is raised: storage itself is failing, not one item.

        A mention is stored as *backfill* (scored, never paged) when ``backfill_all`` (a
        source's first poll) or when it was published before ``backfill_before``."""
        items = list(items)
        if not items:
            return []
        args = (detected_at, backfill_all, backfill_before, edited)
        with self._mentions_lock:
            try:
                return self._store_mentions(items, *args)
            except Exception as exc:
                if len(items) == 1:
                    raise
                log.warning("storing %d mentions at once failed (%s); storing them one by one", len(items),
                            describe_error(exc))
            new_ids: list[int] = []
            stored = failed = 0
            for i, item in enumerate(items, 1):
                try:
                    new_ids += self._store_mentions([item], *args)
                    stored += 1
                except Exception as exc:
                    failed += 1
                    if not stored and failed >= min(3, len(items)):
                        raise  # the first items all failed: the database, not the data
                    what = f"mention {i} of {len(items)} not stored: {describe_error(exc)}"
                    if problems is not None:
                        problems.append(what)
                    else:
                        log.warning("%s", what)
            return new_ids

    def _store_mentions(self, items: list[tuple[Mention, Sequence[Match]]], detected_at: datetime,
                        backfill_all: bool, backfill_before: datetime | None, edited: list[int] | None) -> list[int]:
        insert = _insert_mention(self.dialect)
        new_ids: list[int] = []
        changed: list[int] = []
        tallies: dict[str, list[int]] = {}
        links: list[dict] = []
        with self.session() as s:
            if self.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MENTIONS_LOCK})
            elif self.dialect == "sqlite":  # the write lock before the lookups: poll processes share the file
                s.execute(text("BEGIN IMMEDIATE"))
            # what the batch's fingerprints and URLs already are, in two SELECTs for the batch
            known_rows, owners = self._known(s, items)
            inserted: set[str] = set()  # fingerprints this batch inserted
            for mention, matches in items:
                fingerprint = mention.fingerprint
                known = known_rows.get(fingerprint)
                if known is None and fingerprint in inserted:  # a repeat within the batch: as before
                    known = s.exec(select(MentionRow).where(MentionRow.fingerprint == fingerprint)).first()
                if known is not None:
                    was_negative = known.sentiment_label == "negative"
                    if mention.guid and self._edit(s, known, mention, detected_at):
                        changed.append(known.id)
                        tallies.setdefault(known.source_id, [0, 0])[1] -= was_negative
                    continue
                key = canonical_url(mention.url)
                if key and owners.get(key, set()) - {mention.source_id}:
                    continue  # the same article, already stored from another source
                published = mention.published_at
                event_at = min(published, detected_at) if published else detected_at
                backfill = backfill_all or _older(published, backfill_before)
                values = {"fingerprint": fingerprint, "source_id": mention.source_id, "url": clean_url(mention.url),
                          "url_key": key, "title": mention.title, "text": mention.text, "author": mention.author,
                          "rating": mention.rating, "published_at": published, "detected_at": detected_at,
                          "event_at": event_at, "parent_url": mention.parent_url, "backfill": backfill}
                row = s.execute(insert, values).first()
                if row is None:
                    continue
                mention_id = row[0]
                new_ids.append(mention_id)
                inserted.add(fingerprint)
                if key:
                    owners.setdefault(key, set()).add(mention.source_id)
                tallies.setdefault(mention.source_id, [0, 0])[0] += 1
                links += [{"mention_id": mention_id, "entity_id": m.entity_id, "alias": m.alias, "event_at": event_at,
                           "detected_at": detected_at, "negative_score": None, "scored": False, "backfill": backfill}
                          for m in matches]
            if links:  # the batch's entity links in one executemany
                s.execute(_LINKS.insert(), links)
            self._tally(s, tallies)
            s.commit()
        if edited is not None:
            edited.extend(changed)
        return new_ids

    @staticmethod
    def _known(s: Session, items: list[tuple[Mention, Sequence[Match]]]) -> tuple[dict, dict[str, set[str]]]:
        """The stored rows of the batch's fingerprints, and for each of its canonical URLs the
        sources that stored it (SELECTs of at most 500 values each)."""
        fingerprints = sorted({m.fingerprint for m, _ in items})
        keys = sorted({k for m, _ in items if (k := canonical_url(m.url))})
        rows: dict = {}
        owners: dict[str, set[str]] = {}
        for i in range(0, len(fingerprints), 500):
            rows.update((r.fingerprint, r) for r in s.exec(
                select(MentionRow).where(MentionRow.fingerprint.in_(fingerprints[i:i + 500]))))
        for i in range(0, len(keys), 500):
            for key, source_id in s.exec(select(MentionRow.url_key, MentionRow.source_id).distinct()
                                         .where(MentionRow.url_key.in_(keys[i:i + 500]))):
                owners.setdefault(key, set()).add(source_id)
        return rows, owners

    @staticmethod
    def _edit(s: Session, row: MentionRow, mention: Mention, at: datetime) -> bool:
        """Make ``row`` the new version of an edited mention; False when nothing changed."""
        def same(a: str | None, b: str | None) -> bool:
            return " ".join((a or "").split()) == " ".join((b or "").split())

        if same(row.title, mention.title) and same(row.text, mention.text) and row.rating == mention.rating:
            return False
        last = s.exec(select(func.max(MentionVersionRow.version))
                      .where(MentionVersionRow.mention_id == row.id)).one()
        s.add(MentionVersionRow(mention_id=row.id, version=(last or 0) + 1, title=row.title, text=row.text,
                                rating=row.rating, seen_at=row.edited_at or row.detected_at))
        row.title, row.text, row.rating, row.edited_at = mention.title, mention.text, mention.rating, at
        for column in _VERDICT_COLUMNS:  # the verdict was about the old words; human_label stays
            setattr(row, column, None)
        s.add(row)
        s.execute(_SYNC_LINKS, [{"m_id": row.id, "m_negative": None, "m_scored": False}])
        return True

    def _tally(self, s: Session, tallies: dict[str, list[int]]) -> None:
        """Add ``source -> [stored, negative]`` to the per-source tallies."""
        insert = _insert(self.dialect)
        for source_id, (stored, negative) in sorted(tallies.items()):
            if not stored and not negative:
                continue
            stmt = insert(MentionTallyRow).values(source_id=source_id, stored=stored, negative=negative)
            s.execute(stmt.on_conflict_do_update(
                index_elements=["source_id"],
                set_={"stored": MentionTallyRow.stored + stmt.excluded.stored,
                      "negative": MentionTallyRow.negative + stmt.excluded.negative}))

    @staticmethod
    def _verdict_changes(row: MentionRow, was_negative: bool, links: list[dict], tallies: dict[str, list[int]]):
        """Note what a new verdict on ``row`` changes: its links' copy, its source's tally."""
        links.append({"m_id": row.id, "m_negative": row.negative_score, "m_scored": row.sentiment_label is not None})
        tallies.setdefault(row.source_id, [0, 0])[1] += (row.sentiment_label == "negative") - was_negative

    def save_scores(self, verdicts: Iterable[tuple], model: str, at: datetime) -> None:
        """Store each mention's verdict, ``(id, Verdict)``, beside the model's own answer; a plain
        ``(id, label, score, P(negative))`` is a model's answer taken as the verdict. A mention
        a human has already labelled keeps the human verdict."""
        from monitor.verdict import Verdict

        links: list[dict] = []
        tallies: dict[str, list[int]] = {}
        verdicts = list(verdicts)
        with self.session() as s:  # the rows in one SELECT, the verdicts in one commit
            ids = [item[0] for item in verdicts]
            rows = {r.id: r for r in s.exec(select(MentionRow).where(MentionRow.id.in_(ids)))} if ids else {}
            for item in verdicts:
                if len(item) == 4:  # (id, label, score, P(negative)): a model's answer taken as it is
                    mention_id, label, score, negative = item
                    v = Verdict(label, score, negative, "model", model_label=label, model_negative=negative)
                else:
                    mention_id, v = item
                row = rows.get(mention_id)
                if row is None:
                    continue
                was_negative = row.sentiment_label == "negative"
                row.model_label, row.model_negative = v.model_label, v.model_negative
                row.scored_by, row.scored_at = model, at
                if row.human_label is None:
                    row.sentiment_label, row.sentiment_score, row.negative_score = v.label, v.score, v.negative
                    row.verdict_by, row.causes = v.by, ",".join(v.causes) or None
                else:  # the human verdict stands (set again: an edit of the text cleared it)
                    human = row.human_label
                    row.sentiment_label, row.sentiment_score, row.verdict_by = human, 1.0, "human"
                    row.negative_score = 1.0 if human == "negative" else 0.0
                    if human != "negative":
                        row.causes = None
                    elif row.human_causes is not None:
                        row.causes = row.human_causes or None
                    elif row.causes is None:
                        row.causes = ",".join(v.causes) or None
                s.add(row)
                self._verdict_changes(row, was_negative, links, tallies)
            if links:
                s.execute(_SYNC_LINKS, links)
            self._tally(s, tallies)
            s.commit()

    def label_mention(self, mention_id: int, label: str, causes: Sequence[str] | None, by: str,
                      at: datetime) -> MentionRow | None:
        """Record a human verdict; it counts at once wherever the verdict is read (rules, pages,
        digests). ``causes`` None keeps the detected causes of a negative verdict."""
        with self.session() as s:
            row = s.get(MentionRow, mention_id)
            if row is None:
                return None
            was_negative = row.sentiment_label == "negative"
            row.human_label, row.labelled_by, row.labelled_at = label, by, at
            row.human_causes = ",".join(causes) if causes is not None else None
            row.sentiment_label, row.sentiment_score, row.verdict_by = label, 1.0, "human"
            row.negative_score = 1.0 if label == "negative" else 0.0
            if label != "negative":
                row.causes = None
            elif causes is not None:
                row.causes = ",".join(causes) or None
            s.add(row)
            links: list[dict] = []
            tallies: dict[str, list[int]] = {}
            self._verdict_changes(row, was_negative, links, tallies)
            s.execute(_SYNC_LINKS, links)
            self._tally(s, tallies)
            s.commit()
            s.refresh(row)
            return row
