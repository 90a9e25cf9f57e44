"""The evidence tables (issue 18; revision 0009), beside :mod:`monitor.store.tables`.

  payloads            a raw fetched body, stored once by the SHA-256 of its bytes
                      (zlib-compressed; ``size`` is the length before compression)
  fetches             one HTTP response a connector read: source, URL, fetch time (UTC),
                      status, the response headers (secrets dropped) and the body's hash
  mention_evidence    which response carried which version of a mention's text
                      (``version`` numbers as in ``mention_versions``; the highest is the
                      text the mention row holds now)
  mention_tombstones  a stored mention seen gone: absent from a listing that covers it, or
                      404/410 on a re-check; the mention row keeps the last copy.
                      ``restored_at`` is set when it shows up again
  legal_holds         a mention or incident that retention must keep (``repwatch hold``);
                      a released hold keeps its row, with who released it and when
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, String, Text
from sqlmodel import Field, SQLModel

from monitor.store.tables import _dt


class PayloadRow(SQLModel, table=True):
    __tablename__ = "payloads"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    size: int  # bytes before compression
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # zlib
    stored_at: datetime = _dt(nullable=False)


class FetchRow(SQLModel, table=True):
    __tablename__ = "fetches"

    id: int | None = Field(default=None, primary_key=True)
    source_id: str = Field(index=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    fetched_at: datetime = _dt(nullable=False, index=True)
    status: int
    headers: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON object, secrets dropped
    sha256: str = Field(sa_column=Column(String(64), nullable=False, index=True))


class MentionEvidenceRow(SQLModel, table=True):
    __tablename__ = "mention_evidence"

    mention_id: int = Field(foreign_key="mentions.id", primary_key=True)
    version: int = Field(primary_key=True)
    fetch_id: int = Field(index=True)


class TombstoneRow(SQLModel, table=True):
    __tablename__ = "mention_tombstones"

    id: int | None = Field(default=None, primary_key=True)
    mention_id: int = Field(foreign_key="mentions.id", index=True)
    removed_at: datetime = _dt(nullable=False)  # when the absence was seen
    how: str = Field(max_length=16)  # listing | recheck
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    fetch_id: int | None = None  # the response that showed it gone, when one was kept
    restored_at: datetime | None = _dt()


class HoldRow(SQLModel, table=True):
    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_target", "kind", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # mention | incident
    target_id: int
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = ""
    created_at: datetime = _dt(nullable=False)
    released_at: datetime | None = _dt()
    released_by: str | None = None
