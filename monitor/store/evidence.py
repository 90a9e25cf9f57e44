"""Evidence: the raw responses mentions came from, and tombstones (issue 18; the tables are
in :mod:`monitor.store.evidence_tables`).

:meth:`EvidenceRepo.keep_evidence` is the store stage's second half: after a poll's mentions
are stored, it links each new mention, and each new version of an edited one, to the
response it was made from (the body stored once by its SHA-256), and applies the fetch's
listing.

The tombstone rule. A mention is recorded as removed only when the platform says so:

* **listing**: the connector read a listing that is complete for a range (every item
  published since a time, see :class:`monitor.mention.Listing`), and a stored mention of
  that source published *after* the range's start is not in it. Feeds that simply page
  old items away never declare a listing, so nothing is tombstoned for them; an empty
  listing tombstones nothing;
* **recheck**: the mention's own URL answered 404 or 410 (``repwatch evidence recheck``).

The mention row keeps its last copy (and ``mention_versions`` the earlier ones); a mention
seen again later has its tombstone closed (``restored_at``), never deleted.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Collection, Sequence

from sqlalchemy import func
from sqlmodel import Session, select

from monitor.mention import FetchResult, RawResponse
from monitor.store.core import StoreBase
from monitor.store.evidence_tables import FetchRow, MentionEvidenceRow, PayloadRow, TombstoneRow
from monitor.store.mentions import _insert
from monitor.store.tables import MentionRow, MentionVersionRow


@dataclass(frozen=True)
class EvidenceCounts:
    """What one poll's evidence wrote."""

    linked: int = 0  # mention versions linked to a response
    tombstoned: tuple[int, ...] = ()  # mention ids seen removed
    restored: tuple[int, ...] = ()  # mention ids seen again after a tombstone


@dataclass(frozen=True)
class MentionEvidence:
    """Everything kept about one mention: the row (the last copy), its earlier versions,
    the responses each version came from (version, fetch) and its tombstones."""

    mention: MentionRow
    versions: tuple[MentionVersionRow, ...]
    fetches: tuple[tuple[int, FetchRow], ...]
    tombstones: tuple[TombstoneRow, ...]

    @property
    def current_version(self) -> int:
        return len(self.versions) + 1


class EvidenceRepo(StoreBase):
    """Writing and reading evidence; see the module docstring for the tombstone rule."""

    def keep_evidence(self, source_id: str, result: FetchResult, ids: Sequence[int], at: datetime,
                      fresh: Collection[int] = ()) -> EvidenceCounts:
        """Link the mentions ``ids`` (new, or edited by this poll) to the responses in
        ``result.raw`` they came from, close the tombstones of mentions seen again, and
        tombstone what ``result.listing`` shows removed. One transaction. ``fresh``: those
        of ``ids`` this poll inserted (no versions or links yet: not looked up)."""
        with self.session() as s:
            written: dict[int, int] = {}  # id(raw) -> fetch id
            linked = self._link(s, source_id, result.raw, ids, at, written, fresh)
            seen = set(result.listing.fingerprints) if result.listing else set()
            seen.update(m.fingerprint for m in result.mentions)
            restored = self._restore(s, source_id, seen, at)
            tombstoned = self._tombstone_listing(s, source_id, result, at, written) if result.listing else []
            s.commit()
        return EvidenceCounts(linked, tuple(tombstoned), tuple(restored))

    def _link(self, s: Session, source_id: str, raw: Sequence[RawResponse], ids: Sequence[int], at: datetime,
              written: dict[int, int], fresh: Collection[int] = ()) -> int:
        by_fp = {fp: r for r in raw for fp in r.fingerprints}
        if not ids or not by_fp:
            return 0
        rows = s.exec(select(MentionRow.id, MentionRow.fingerprint).where(MentionRow.id.in_(list(ids)))).all()
        old = [i for i in ids if i not in fresh]
        last, have = {}, set()
        if old:
            last = dict(s.exec(select(MentionVersionRow.mention_id, func.max(MentionVersionRow.version))
                               .where(MentionVersionRow.mention_id.in_(old))
                               .group_by(MentionVersionRow.mention_id)).all())
            have = set(s.exec(select(MentionEvidenceRow.mention_id, MentionEvidenceRow.version)
                              .where(MentionEvidenceRow.mention_id.in_(old))).all())
        links = []
        for mention_id, fingerprint in rows:
            response = by_fp.get(fingerprint)
            version = (last.get(mention_id) or 0) + 1
            if response is not None and (mention_id, version) not in have:
                links.append({"mention_id": mention_id, "version": version,
                              "fetch_id": self._fetch_row(s, source_id, response, at, written)})
        if links:
            s.execute(MentionEvidenceRow.__table__.insert(), links)
        return len(links)

    def _fetch_row(self, s: Session, source_id: str, raw: RawResponse, at: datetime, written: dict[int, int]) -> int:
        """The fetches row of ``raw`` (written once per poll), its body stored once by hash."""
        if id(raw) in written:
            return written[id(raw)]
        if raw.body is not None:
            insert = _insert(self.dialect)
            stmt = insert(PayloadRow).values(sha256=raw.sha256, size=len(raw.body), data=zlib.compress(raw.body, 6),
                                             stored_at=at)
            # a body seen again is touched, so retention never takes one a poll has just linked
            s.execute(stmt.on_conflict_do_update(index_elements=["sha256"],
                                                 set_={"stored_at": stmt.excluded.stored_at}))
        table = FetchRow.__table__
        fetch_id = s.execute(table.insert().values(
            source_id=source_id, url=raw.url, fetched_at=raw.fetched_at, status=raw.status,
            headers=json.dumps(raw.headers, ensure_ascii=False), sha256=raw.sha256).returning(table.c.id)).scalar_one()
        written[id(raw)] = fetch_id
        return fetch_id

    @staticmethod
    def _open_tombstones(s: Session, source_id: str) -> list[tuple[TombstoneRow, str]]:
        return list(s.exec(select(TombstoneRow, MentionRow.fingerprint)
                           .join(MentionRow, MentionRow.id == TombstoneRow.mention_id)
                           .where(TombstoneRow.restored_at.is_(None), MentionRow.source_id == source_id)).all())

    def _restore(self, s: Session, source_id: str, seen: set[str], at: datetime) -> list[int]:
        restored = []
        for tomb, fingerprint in self._open_tombstones(s, source_id):
            if fingerprint in seen:
                tomb.restored_at = at
                s.add(tomb)
                restored.append(tomb.mention_id)
        return restored

    def _tombstone_listing(self, s: Session, source_id: str, result: FetchResult, at: datetime,
                           written: dict[int, int]) -> list[int]:
        listing = result.listing
        if listing is None or listing.since is None:
            return []  # an empty listing says nothing about any range
        gone = set(s.exec(select(TombstoneRow.mention_id).join(MentionRow, MentionRow.id == TombstoneRow.mention_id)
                          .where(TombstoneRow.restored_at.is_(None), MentionRow.source_id == source_id)).all())
        rows = s.exec(select(MentionRow.id, MentionRow.fingerprint)
                      .where(MentionRow.source_id == source_id, MentionRow.published_at > listing.since)).all()
        missing = [mention_id for mention_id, fp in rows if fp not in listing.fingerprints and mention_id not in gone]
        if not missing:
            return []
        pages = [self._fetch_row(s, source_id, page, at, written) for page in listing.pages]
        detail = (f"absent from the source's listing, complete for items published after {listing.since.isoformat()}"
                  f"; {len(pages)} page(s) read, fetch ids {', '.join(map(str, pages)) or 'none'}")
        for mention_id in missing:
            s.add(TombstoneRow(mention_id=mention_id, removed_at=at, how="listing", detail=detail,
                               fetch_id=pages[0] if pages else None))
        return missing

    def tombstone(self, mention_id: int, at: datetime, how: str, detail: str) -> TombstoneRow | None:
        """Record that ``mention_id`` was seen removed (a re-check); None when it already has
        an open tombstone or does not exist."""
        with self.session() as s:
            if s.get(MentionRow, mention_id) is None or s.exec(select(TombstoneRow.id).where(
                    TombstoneRow.mention_id == mention_id, TombstoneRow.restored_at.is_(None))).first() is not None:
                return None
            row = TombstoneRow(mention_id=mention_id, removed_at=at, how=how, detail=detail)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def restore_tombstones(self, mention_id: int, at: datetime) -> int:
        """Close the open tombstones of ``mention_id`` (it answered again); how many."""
        with self.session() as s:
            rows = s.exec(select(TombstoneRow).where(TombstoneRow.mention_id == mention_id,
                                                     TombstoneRow.restored_at.is_(None))).all()
            for row in rows:
                row.restored_at = at
                s.add(row)
            s.commit()
            return len(rows)

    def mention_evidence(self, mention_id: int) -> MentionEvidence | None:
        """The last copy, versions, responses and tombstones of ``mention_id``."""
        with self.session() as s:
            mention = s.get(MentionRow, mention_id)
            if mention is None:
                return None
            versions = s.exec(select(MentionVersionRow).where(MentionVersionRow.mention_id == mention_id)
                              .order_by(MentionVersionRow.version)).all()
            fetches = s.exec(select(MentionEvidenceRow.version, FetchRow)
                             .join(FetchRow, FetchRow.id == MentionEvidenceRow.fetch_id)
                             .where(MentionEvidenceRow.mention_id == mention_id)
                             .order_by(MentionEvidenceRow.version)).all()
            tombs = s.exec(select(TombstoneRow).where(TombstoneRow.mention_id == mention_id)
                           .order_by(TombstoneRow.id)).all()
            return MentionEvidence(mention, tuple(versions), tuple((v, f) for v, f in fetches), tuple(tombs))

    def fetch_row(self, fetch_id: int) -> FetchRow | None:
        with self.session() as s:
            return s.get(FetchRow, fetch_id)

    def payload(self, sha256: str) -> bytes | None:
        """The raw body with that hash, as fetched; None when it was not kept."""
        with self.session() as s:
            row = s.get(PayloadRow, sha256)
            return zlib.decompress(row.data) if row is not None else None
