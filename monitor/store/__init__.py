"""Storage with SQLModel: a SQLite file by default (WAL), PostgreSQL by URL.

Tables
  mentions           one row per thing said; ``fingerprint`` is UNIQUE, so the
                     database, not memory, guarantees "stored once"; ``url_key`` (the
                     canonical URL) is a second key across sources; an edited item keeps
                     its row (and id) and takes the new text
  mention_versions   the earlier title/text/rating of an edited mention, one row per edit
  mention_entities   which entities a mention is about (many-to-many)
  source_state       per-source cursor, ETag/Last-Modified, health
  alerts             every alert a rule or the source-health check raised: labels,
                     mentions, and what became of it (grouped, silenced, inhibited, notified)
  alert_groups       Alertmanager-style groups per route (group_wait, group_interval)
  incidents          a page opens one: deadline, acknowledgement, escalation tier
  notifications      one message for one route, rendered per channel (text, markdown, HTML)
  deliveries         one row per notification x URL: written *before* sending, claimed
                     while sending, updated after, so a crash never loses a page
  silences           matchers with an expiry
  leases             named leases one process holds at a time (``process``: scoring, rules,
                     paging and sending), taken with one conditional UPDATE on both engines

All datetimes go in and come out as aware UTC (:class:`UTCDateTime`), on both engines.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Column, DateTime, Index, String, Text, TypeDecorator, event, func, or_, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, select

from monitor.causes import parse_causes
from monitor.clock import UTC, as_utc
from monitor.errors import StorageError
from monitor.matching import Match
from monitor.mention import FetchResult, Mention, canonical_url, clean_url
from monitor.privacy import mask_phi

log = logging.getLogger("repwatch.storage")


class UTCDateTime(TypeDecorator):
    """Stores UTC; returns aware UTC datetimes whatever the backend does with zones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return as_utc(value)


def _dt(**kw):
    return Field(default=None, sa_column=Column(UTCDateTime(), **kw))


class MentionRow(SQLModel, table=True):
    __tablename__ = "mentions"
    __table_args__ = (Index("ix_mentions_label_event", "sentiment_label", "event_at"),)

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    source_id: str = Field(index=True)
    url: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    author: str | None = None
    rating: float | None = None
    published_at: datetime | None = _dt()
    detected_at: datetime = _dt(nullable=False)
    # when it happened, for windows: published time, never later than detection
    event_at: datetime = _dt(nullable=False, index=True)
    parent_url: str | None = Field(default=None, sa_column=Column(Text))  # a reply: the thread it answers
    # the canonical URL (no www./m., https): one article from two sources is one mention
    url_key: str | None = Field(default=None, sa_column=Column(Text, index=True))
    edited_at: datetime | None = _dt()  # when the current text replaced an earlier one (see mention_versions)
    # stored but never paged: found on a source's first poll, or already older than the longest rule window
    backfill: bool | None = Field(default=False)
    # the verdict rules, pages and digests read: the model's, lifted by a low star rating, or a human's
    sentiment_label: str | None = Field(default=None, max_length=16)
    sentiment_score: float | None = None  # confidence of the label
    negative_score: float | None = None  # P(negative) as the verdict has it (1.0 / 0.0 for a human verdict)
    verdict_by: str | None = Field(default=None, max_length=16)  # model | rating | human
    causes: str | None = None  # comma-separated, from monitor.causes.CAUSES; negative verdicts only
    # the model's own answer, kept beside the verdict
    model_label: str | None = Field(default=None, max_length=16)
    model_negative: float | None = None
    scored_by: str | None = None
    scored_at: datetime | None = _dt()
    # a human correction (repwatch label): wins over the model and the rating
    human_label: str | None = Field(default=None, max_length=16)
    human_causes: str | None = None
    labelled_by: str | None = None
    labelled_at: datetime | None = _dt()


class MentionVersionRow(SQLModel, table=True):
    """An earlier form of an edited mention: what it said until ``seen_at`` was superseded.
    ``version`` counts from 1 (the first text seen); the mention row holds the latest."""

    __tablename__ = "mention_versions"

    mention_id: int = Field(foreign_key="mentions.id", primary_key=True)
    version: int = Field(primary_key=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    rating: float | None = None
    seen_at: datetime = _dt(nullable=False)  # when this text was first seen


# what a verdict is made of: cleared when a mention's text is edited, so it is scored again
_VERDICT_COLUMNS = ("sentiment_label", "sentiment_score", "negative_score", "verdict_by", "causes", "model_label",
                    "model_negative", "scored_by", "scored_at")
_MENTIONS_LOCK = 0x72657077  # PostgreSQL advisory lock held while mentions are written ("repw")


def describe_error(exc: BaseException) -> str:
    """An exception in one line for logs and source health: the database's own message,
    never the SQL statement or its parameters (they hold mention text), masked."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {mask_phi(lines[0] if lines else '')[:200]}"


class MentionEntityRow(SQLModel, table=True):
    __tablename__ = "mention_entities"

    mention_id: int = Field(foreign_key="mentions.id", primary_key=True)
    entity_id: str = Field(primary_key=True, index=True)
    alias: str = ""


class SourceStateRow(SQLModel, table=True):
    __tablename__ = "source_state"

    source_id: str = Field(primary_key=True)
    status: str = "new"  # new | ok | failing | rate_limited | blocked | auth_failed
    etag: str | None = None
    last_modified: str | None = None
    cursor: str | None = None
    last_poll_at: datetime | None = _dt()
    last_success_at: datetime | None = _dt()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: datetime | None = _dt()
    consecutive_failures: int = 0
    not_before: datetime | None = _dt()
    backfilled: int | None = 0  # mentions stored without paging (first poll, or older than every rule window)
    last_new_mentions: int = 0
    total_mentions: int = 0
    config_digest: str | None = None  # the source's config when it was last polled
    first_new_at: datetime | None = _dt()  # first and last poll that brought a new mention
    last_new_at: datetime | None = _dt()
    last_warnings: str | None = Field(default=None, sa_column=Column(Text))  # kept-but-imperfect fetch details
    notice_state: str | None = None  # the health state the last ops notice was about
    notice_at: datetime | None = _dt()


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(index=True)
    entity_id: str = Field(index=True)
    fired_at: datetime = _dt(nullable=False)
    window_start: datetime = _dt(nullable=False)
    count: int = 0
    mention_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))  # one-line summary (no mention text)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    labels: str | None = Field(default="{}", sa_column=Column(Text))  # JSON; None in rows from repwatch < 0.2
    severity: str | None = None
    # new -> grouped -> notified | silenced | inhibited | unrouted (None: made by repwatch < 0.2, notified)
    status: str | None = Field(default=None, index=True)
    route_id: str | None = None
    group_id: int | None = None
    incident_id: int | None = Field(default=None, index=True)
    silence_id: int | None = None
    active_until: datetime | None = _dt()  # silences/inhibition consider it firing until then
    notified_at: datetime | None = _dt()
    detail: str | None = Field(default=None, sa_column=Column(Text))  # JSON facts for the message

    @property
    def mention_id_set(self) -> set[int]:
        return set(json.loads(self.mention_ids))

    @property
    def label_map(self) -> dict[str, str]:
        return json.loads(self.labels or "{}")

    @property
    def facts(self) -> dict:
        return json.loads(self.detail or "{}")


class GroupRow(SQLModel, table=True):
    __tablename__ = "alert_groups"
    __table_args__ = (Index("ux_groups_route_key", "route_id", "group_key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    route_id: str
    group_key: str
    labels: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = _dt(nullable=False)
    first_pending_at: datetime | None = _dt()  # oldest alert waiting in the group (None: nothing waits)
    last_notified_at: datetime | None = _dt()
    incident_id: int | None = None  # the open incident this group pages for


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    route_id: str
    group_id: int | None = None
    entity_id: str = Field(default="", index=True)
    labels: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    severity: str = "critical"
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))  # ids and counts only
    status: str = Field(default="open", index=True)  # open | acked | resolved
    opened_at: datetime = _dt(nullable=False)
    first_detected_at: datetime = _dt(nullable=False)
    deadline: datetime = _dt(nullable=False)
    acked_at: datetime | None = _dt()
    acked_by: str | None = None
    ack_via: str | None = None  # cli | link
    resolved_at: datetime | None = _dt()
    resolved_by: str | None = None
    tier: int = 0  # 0: the first route; n: escalated n times
    tier_route: str = ""
    paged_routes: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    next_escalation_at: datetime | None = _dt()
    last_notified_at: datetime | None = _dt()
    mention_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))

    @property
    def mention_id_list(self) -> list[int]:
        return json.loads(self.mention_ids)

    @property
    def routes_paged(self) -> list[str]:
        return json.loads(self.paged_routes)


class NotificationRow(SQLModel, table=True):
    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    route_id: str
    kind: str  # page | update | repeat | escalation | ack | ops | digest
    alert_id: int | None = None  # the alert it was made for, when there is one
    incident_id: int | None = Field(default=None, index=True)
    created_at: datetime = _dt(nullable=False)
    language: str = "zh-TW"
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    markdown: str = Field(default="", sa_column=Column(Text, nullable=False))
    html: str = Field(default="", sa_column=Column(Text, nullable=False))
    detected_at: datetime | None = _dt()  # earliest detection of a mention in it (page latency)


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, index=True)  # repwatch < 0.2 sent alerts, not notifications
    notification_id: int | None = Field(default=None, index=True)
    route_id: str
    target_index: int  # position of the URL in the route's notify list
    target: str  # apprise's privacy-redacted URL: safe to show and log
    status: str = Field(default="pending", index=True)  # pending | sending | retrying | sent | failed
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _dt(nullable=False)
    sent_at: datetime | None = _dt()
    next_attempt_at: datetime | None = _dt()
    claimed_at: datetime | None = _dt()  # set while a sender holds it; a stale claim means a crash
    fallback_for: int | None = None  # the delivery this one stands in for
    fallback_at: datetime | None = _dt()  # when a fallback was queued for this one


class SilenceRow(SQLModel, table=True):
    __tablename__ = "silences"

    id: int | None = Field(default=None, primary_key=True)
    matchers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of matcher strings
    starts_at: datetime = _dt(nullable=False)
    ends_at: datetime = _dt(nullable=False)
    created_by: str = ""
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _dt(nullable=False)

    @property
    def matcher_list(self) -> list[str]:
        return json.loads(self.matchers)


class LeaseRow(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True)
    holder: str = ""  # host:pid:object of the process that holds (or last held) it
    expires_at: datetime = _dt(nullable=False)  # free after this; a released lease is set to RELEASED


RELEASED = datetime(1970, 1, 1, tzinfo=UTC)


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


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs: dict[str, Any] = {"hide_parameters": True}  # errors never quote mention text
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad driver name, malformed URL
        raise StorageError(f"cannot use storage URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """All database access. One instance per process; thread-safe via sessions."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        try:
            SQLModel.metadata.create_all(self.engine)
            self._add_missing_columns()
            self._add_url_keys()
        except Exception as exc:
            raise StorageError(f"cannot open storage: {exc}") from exc
        self.dialect = self.engine.dialect.name
        self._mentions_lock = threading.Lock()

    def _add_missing_columns(self) -> None:
        """Forward migration for databases made by an older repwatch: columns added since
        are created (nullable or with their default); nothing stored is touched."""
        import sqlalchemy as sa

        inspector = sa.inspect(self.engine)
        for table in SQLModel.metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                ctype = column.type.compile(dialect=self.engine.dialect)
                default = ""
                if not column.nullable:
                    value = column.default.arg if column.default is not None and not callable(column.default.arg) else 0
                    default = f" NOT NULL DEFAULT {value!r}" if isinstance(value, str) else f" NOT NULL DEFAULT {value}"
                with self.engine.begin() as conn:
                    conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {ctype}{default}'))

    def _add_url_keys(self) -> None:
        """Forward migration: rows stored before ``url_key`` existed get theirs (and the
        index), so the second key also finds articles stored by an older repwatch."""
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(sa.text('CREATE INDEX IF NOT EXISTS "ix_mentions_url_key" ON "mentions" ("url_key")'))
        while True:
            with self.session() as s:
                rows = list(s.exec(select(MentionRow.id, MentionRow.url).where(
                    MentionRow.url_key.is_(None), MentionRow.url.is_not(None)).limit(1000)))
                if not rows:
                    return
                for ident, url in rows:
                    # a URL with no canonical form is its own key, so the loop always ends
                    s.exec(update(MentionRow).where(MentionRow.id == ident).values(url_key=canonical_url(url) or url))
                s.commit()

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # ---------------------------------------------------------------- mentions

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

        The lookups and inserts are serialised (a lock in this process, and on PostgreSQL a
        transaction-level advisory lock across processes). The batch is one transaction;
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
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        new_ids: list[int] = []
        changed: list[int] = []
        with self.session() as s:
            if self.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MENTIONS_LOCK})
            for mention, matches in items:
                fingerprint = mention.fingerprint
                known = s.exec(select(MentionRow).where(MentionRow.fingerprint == fingerprint)).first()
                if known is not None:
                    if mention.guid and self._edit(s, known, mention, detected_at):
                        changed.append(known.id)
                    continue
                key = canonical_url(mention.url)
                if key and s.exec(select(MentionRow.id).where(MentionRow.url_key == key,
                                                              MentionRow.source_id != mention.source_id)
                                  .limit(1)).first() is not None:
                    continue  # the same article, already stored from another source
                published = mention.published_at
                event_at = min(published, detected_at) if published else detected_at
                stmt = (
                    insert(MentionRow)
                    .values(
                        fingerprint=fingerprint,
                        source_id=mention.source_id,
                        url=clean_url(mention.url),
                        url_key=key,
                        title=mention.title,
                        text=mention.text,
                        author=mention.author,
                        rating=mention.rating,
                        published_at=published,
                        detected_at=detected_at,
                        event_at=event_at,
                        parent_url=mention.parent_url,
                        backfill=bool(backfill_all or (backfill_before is not None and published is not None
                                                       and published < backfill_before)),
                    )
                    .on_conflict_do_nothing(index_elements=["fingerprint"])
                    .returning(MentionRow.id)
                )
                row = s.exec(stmt).first()
                if row is None:
                    continue
                mention_id = row[0]
                new_ids.append(mention_id)
                for m in matches:
                    s.add(MentionEntityRow(mention_id=mention_id, entity_id=m.entity_id, alias=m.alias))
            s.commit()
        if edited is not None:
            edited.extend(changed)
        return new_ids

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
        return True

    def mention_versions(self, mention_id: int) -> list[MentionVersionRow]:
        """The earlier forms of an edited mention, oldest first."""
        return self.rows(MentionVersionRow, MentionVersionRow.mention_id == mention_id,
                         order_by=MentionVersionRow.version)

    def unscored(self, limit: int) -> list[MentionRow]:
        with self.session() as s:
            q = select(MentionRow).where(MentionRow.sentiment_label.is_(None)).order_by(MentionRow.id).limit(limit)
            return list(s.exec(q))

    def save_scores(self, verdicts: Iterable[tuple], model: str, at: datetime) -> None:
        """Store each mention's verdict, ``(id, Verdict)``, beside the model's own answer; a plain
        ``(id, label, score, P(negative))`` is a model's answer taken as the verdict. A mention
        a human has already labelled keeps the human verdict."""
        from monitor.verdict import Verdict

        with self.session() as s:
            for item in verdicts:
                if len(item) == 4:  # (id, label, score, P(negative)): a model's answer taken as it is
                    mention_id, label, score, negative = item
                    v = Verdict(label, score, negative, "model", model_label=label, model_negative=negative)
                else:
                    mention_id, v = item
                row = s.get(MentionRow, mention_id)
                if row is None:
                    continue
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
            s.commit()

    def label_mention(self, mention_id: int, label: str, causes: Sequence[str] | None, by: str,
                      at: datetime) -> MentionRow | None:
        """Record a human verdict; it counts at once wherever the verdict is read (rules, pages,
        digests). ``causes`` None keeps the detected causes of a negative verdict."""
        with self.session() as s:
            row = s.get(MentionRow, mention_id)
            if row is None:
                return None
            row.human_label, row.labelled_by, row.labelled_at = label, by, at
            row.human_causes = ",".join(causes) if causes is not None else None
            row.sentiment_label, row.sentiment_score, row.verdict_by = label, 1.0, "human"
            row.negative_score = 1.0 if label == "negative" else 0.0
            if label != "negative":
                row.causes = None
            elif causes is not None:
                row.causes = ",".join(causes) or None
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def corrections(self) -> list[MentionRow]:
        """Every mention a human has labelled, oldest first (for ``repwatch sentiment adapt``)."""
        return self.rows(MentionRow, MentionRow.human_label.is_not(None), order_by=MentionRow.id)

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

    # ---------------------------------------------------------------- sources

    def source_state(self, source_id: str) -> SourceStateRow:
        with self.session() as s:
            row = s.get(SourceStateRow, source_id)
            return row if row is not None else SourceStateRow(source_id=source_id)

    def source_states(self) -> dict[str, SourceStateRow]:
        with self.session() as s:
            return {r.source_id: r for r in s.exec(select(SourceStateRow))}

    def record_fetch(self, source_id: str, result: FetchResult, new_mentions: int, at: datetime,
                     digest: str | None = None, backfilled: int = 0) -> tuple[str, str]:
        """Update a source's state after a fetch; return (previous status, new status)."""
        with self.session() as s:
            row = s.get(SourceStateRow, source_id) or SourceStateRow(source_id=source_id)
            before = row.status
            row.backfilled = (row.backfilled or 0) + backfilled
            row.last_poll_at = at
            if digest is not None:
                row.config_digest = digest
            if result.status == "ok":
                row.last_warnings = "\n".join(result.warnings)[:4000] or None
            if new_mentions:
                row.first_new_at = row.first_new_at or at
                row.last_new_at = at
            if result.ok:
                row.status = "ok"
                row.last_success_at = at
                row.consecutive_failures = 0
                row.not_before = result.retry_after  # a spent rate budget, reported with good data
                if result.status == "ok":
                    row.etag = result.etag
                    row.last_modified = result.last_modified
                    if result.cursor is not None:
                        row.cursor = result.cursor
                row.last_new_mentions = new_mentions
                row.total_mentions += new_mentions
            else:
                row.status = {"rate_limited": "rate_limited", "blocked": "blocked", "auth_failed": "auth_failed"}.get(
                    result.status, "failing"
                )
                row.consecutive_failures += 1
                row.last_error = result.error
                row.last_error_at = at
                row.not_before = result.retry_after
            s.add(row)
            s.commit()
            return before, row.status

    def record_notice(self, source_id: str, state: str | None, at: datetime) -> None:
        with self.session() as s:
            row = s.get(SourceStateRow, source_id) or SourceStateRow(source_id=source_id)
            row.notice_state = state
            row.notice_at = at
            s.add(row)
            s.commit()

    # ---------------------------------------------------------------- generic

    def add(self, row):
        """Insert one row and return it with its id."""
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def get(self, model, ident):
        with self.session() as s:
            return s.get(model, ident)

    def update(self, model, ident, **values):
        """Set fields on one row; return the row (None when there is no such row)."""
        with self.session() as s:
            row = s.get(model, ident)
            if row is None:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def write(self, updates: Sequence[tuple[Any, int, dict]] = (), adds: Sequence = ()) -> list:
        """Set fields on rows (``(model, id, values)``) and insert ``adds``, in one transaction:
        state that changes together (an alert and its group) is never half-changed by a crash.
        Returns ``adds`` with their ids."""
        with self.session() as s:
            for model, ident, values in updates:
                self._apply(s, model, ident, values)
            for row in adds:
                s.add(row)
            s.commit()
            for row in adds:
                s.refresh(row)
            return list(adds)

    def rows(self, model, *where, order_by=None, limit: int | None = None) -> list:
        with self.session() as s:
            q = select(model)
            for w in where:
                q = q.where(w)
            q = q.order_by(order_by if order_by is not None else model.id)
            if limit:
                q = q.limit(limit)
            return list(s.exec(q))

    # ---------------------------------------------------------------- alerts

    def last_alert(self, rule_id: str, entity_id: str) -> AlertRow | None:
        with self.session() as s:
            q = (
                select(AlertRow)
                .where(AlertRow.rule_id == rule_id, AlertRow.entity_id == entity_id)
                .order_by(AlertRow.fired_at.desc(), AlertRow.id.desc())
                .limit(1)
            )
            return s.exec(q).first()

    def alerted_mentions(self, rule_id: str, entity_id: str, since: datetime) -> set[int]:
        """Mention ids already in an alert of this rule and entity fired after ``since``."""
        ids: set[int] = set()
        for a in self.rows(AlertRow, AlertRow.rule_id == rule_id, AlertRow.entity_id == entity_id,
                           AlertRow.fired_at > since):
            ids |= a.mention_id_set
        return ids

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

    def alerts(self, limit: int = 100) -> list[AlertRow]:
        with self.session() as s:
            return list(s.exec(select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)))

    def group(self, route_id: str, key: str, labels: str, now: datetime) -> GroupRow:
        """The group for (route, key), made on first use; safe when two writers race."""
        with self.session() as s:
            row = s.exec(select(GroupRow).where(GroupRow.route_id == route_id, GroupRow.group_key == key)).first()
            if row is not None:
                return row
            row = GroupRow(route_id=route_id, group_key=key, labels=labels, created_at=now)
            s.add(row)
            try:
                s.commit()
            except Exception:
                s.rollback()
                return s.exec(select(GroupRow).where(GroupRow.route_id == route_id,
                                                     GroupRow.group_key == key)).one()
            s.refresh(row)
            return row

    # ---------------------------------------------------------------- outbox

    def create_notification(self, note: NotificationRow, targets: Sequence[tuple[str, int, str]],
                            alerts: Sequence[tuple[int, dict]] = (), incident: tuple[int, dict] | None = None,
                            group: tuple[int, dict] | None = None, fallback_for: int | None = None,
                            opening: IncidentRow | None = None,
                            render: Callable[[IncidentRow], Any] | None = None) -> NotificationRow:
        """Write a notification, one pending delivery per (route, index, redacted target), and the
        state changes it stands for (alerts notified, incident and group updated), in one
        transaction: after a crash either all of it is there or none of it.

        ``opening``: the new incident this notification opens, inserted in the same transaction,
        so no incident exists that nobody was paged for. The notification, ``alerts`` and
        ``group`` are linked to it (``incident_id``), and ``render(incident)`` gives the message
        (``title``, ``text``, ``markdown``, ``html``), which names the incident's id and so can
        only be made once it has one. ``render`` must not write to the database."""
        with self.session() as s:
            if opening is not None:
                s.add(opening)
                s.flush()
                note.incident_id = opening.id
                if render is not None:
                    msg = render(opening)
                    note.title, note.text, note.markdown, note.html = msg.title, msg.text, msg.markdown, msg.html
                alerts = [(ident, {**values, "incident_id": opening.id}) for ident, values in alerts]
                if group is not None:
                    group = (group[0], {**group[1], "incident_id": opening.id})
            s.add(note)
            s.flush()
            for route_id, index, target in targets:
                s.add(DeliveryRow(alert_id=note.alert_id, notification_id=note.id, route_id=route_id,
                                  target_index=index, target=target, created_at=note.created_at,
                                  next_attempt_at=note.created_at, fallback_for=fallback_for))
            for ident, values in alerts:
                self._apply(s, AlertRow, ident, values)
            if incident is not None:
                self._apply(s, IncidentRow, *incident)
            if group is not None:
                self._apply(s, GroupRow, *group)
            s.commit()
            s.refresh(note)
            return note

    @staticmethod
    def _apply(s: Session, model, ident: int, values: dict) -> None:
        row = s.get(model, ident)
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)

    def claim_deliveries(self, now: datetime, max_attempts: int, stale_before: datetime) -> list[DeliveryRow]:
        """Mark due deliveries as being sent and return them. Due: pending or retrying whose
        time has come, or "sending" with a claim older than ``stale_before`` (the process that
        claimed it died mid-send; sending again may repeat a page, never lose one).

        Two processes never claim one delivery: the claim is one UPDATE guarded by the same
        "due" condition, and only the rows it changed are returned (on SQLite the write lock
        orders the two UPDATEs; on PostgreSQL the second re-checks the condition on the rows
        the first changed, and ``SKIP LOCKED`` keeps it from waiting on them)."""
        due = (DeliveryRow.attempts < max_attempts) & (
            (DeliveryRow.status.in_(("pending", "retrying"))
             & (DeliveryRow.next_attempt_at.is_(None) | (DeliveryRow.next_attempt_at <= now)))
            | ((DeliveryRow.status == "sending") & (DeliveryRow.claimed_at <= stale_before))
        )
        with self.session() as s:
            q = select(DeliveryRow.id).where(due).order_by(DeliveryRow.id)
            if self.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(s.exec(q))
            if not ids:
                s.commit()
                return []
            claim = (update(DeliveryRow).where(DeliveryRow.id.in_(ids), due)
                     .values(status="sending", claimed_at=now).returning(DeliveryRow.id)
                     .execution_options(synchronize_session=False))
            claimed = list(s.exec(claim).scalars())
            rows = list(s.exec(select(DeliveryRow).where(DeliveryRow.id.in_(claimed)).order_by(DeliveryRow.id)))
            s.commit()
            return rows

    def finish_delivery(self, delivery_id: int, ok: bool, error: str | None, at: datetime,
                        retry_at: datetime | None, max_attempts: int) -> DeliveryRow:
        with self.session() as s:
            row = s.get(DeliveryRow, delivery_id)
            row.attempts += 1
            row.claimed_at = None
            if ok:
                row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", at, None, None
            else:
                row.last_error = error
                give_up = row.attempts >= max_attempts or retry_at is None
                row.status = "failed" if give_up else "retrying"
                row.next_attempt_at = None if give_up else retry_at
            s.add(row)
            s.commit()
            return row

    def deliveries(self, notification_id: int | None = None, limit: int | None = None) -> list[DeliveryRow]:
        where = [DeliveryRow.notification_id == notification_id] if notification_id is not None else []
        order = DeliveryRow.id.desc() if limit else DeliveryRow.id
        return self.rows(DeliveryRow, *where, order_by=order, limit=limit)

    def queue_fallback(self, notification_id: int, primary_ids: Sequence[int], targets: Sequence[tuple[str, int, str]],
                       at: datetime) -> None:
        """Mark primaries as having had their fallback considered and queue the fallback
        deliveries (none when another URL of the route already delivered), in one transaction."""
        with self.session() as s:
            note = s.get(NotificationRow, notification_id)
            for ident in primary_ids:
                row = s.get(DeliveryRow, ident)
                row.fallback_at = at
                s.add(row)
            for route_id, index, target in targets:
                s.add(DeliveryRow(alert_id=note.alert_id, notification_id=notification_id, route_id=route_id,
                                  target_index=index, target=target, created_at=at, next_attempt_at=at,
                                  fallback_for=primary_ids[0]))
            s.commit()

    def unsent_for_fallback(self, route_id: str, older_than: datetime) -> list[DeliveryRow]:
        """Deliveries on ``route_id`` made before ``older_than``, not sent, with no fallback queued yet."""
        return self.rows(DeliveryRow, DeliveryRow.route_id == route_id, DeliveryRow.status != "sent",
                         DeliveryRow.fallback_at.is_(None), DeliveryRow.created_at <= older_than,
                         DeliveryRow.notification_id.is_not(None))

    # ---------------------------------------------------------------- incidents and silences

    def incidents(self, open_only: bool = False, limit: int | None = None) -> list[IncidentRow]:
        where = [IncidentRow.status != "resolved"] if open_only else []
        return self.rows(IncidentRow, *where, order_by=IncidentRow.id.desc() if limit else IncidentRow.id, limit=limit)

    def active_silences(self, now: datetime) -> list[SilenceRow]:
        return self.rows(SilenceRow, SilenceRow.starts_at <= now, SilenceRow.ends_at > now)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # ---------------------------------------------------------------- leases

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take, or renew, the lease ``name`` for ``holder`` until ``now + ttl``; False while
        another holder has it unexpired. One conditional UPDATE decides, so of two processes
        asking at once (SQLite or PostgreSQL) exactly one gets it."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        with self.engine.begin() as conn:
            conn.execute(insert(LeaseRow).values(name=name, holder="", expires_at=RELEASED)
                         .on_conflict_do_nothing(index_elements=["name"]))
            free = or_(LeaseRow.expires_at < now, LeaseRow.holder == holder)
            taken = conn.execute(update(LeaseRow).where(LeaseRow.name == name, free)
                                 .values(holder=holder, expires_at=now + ttl))
            return taken.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease back (only when ``holder`` still has it): the next asker gets it at once."""
        with self.engine.begin() as conn:
            conn.execute(update(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder)
                         .values(expires_at=RELEASED))


class Lease:
    """Hold the lease ``name`` while a ``with`` block runs, so that one process at a time does
    what it guards, among all processes and machines sharing the database::

        with Lease(store, "process", holder, clock, ttl=timedelta(seconds=60)) as held:
            if held: ...

    ``held`` is False when another holder kept it for all of ``wait`` (real time: this waits
    for another process, not for a window). While held, a thread renews it every ``ttl / 3``;
    a holder killed outright stops renewing, and its lease is free ``ttl`` after its last
    renewal, so nobody waits on a dead process for longer than that."""

    def __init__(self, store: Store, name: str, holder: str, clock, ttl: timedelta,
                 wait: timedelta = timedelta(0), sleep: Callable[[float], None] = time.sleep):
        self.store, self.name, self.holder, self.clock, self.ttl = store, name, holder, clock, ttl
        self.wait, self.sleep = wait, sleep
        self.held = False
        self.lost = False  # renewal found it taken by another holder (this one stalled past ttl)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> bool:
        deadline = time.monotonic() + self.wait.total_seconds()
        while not self.store.take_lease(self.name, self.holder, self.clock.now(), self.ttl):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sleep(min(0.2, left))
        self.held = True
        self._thread = threading.Thread(target=self._renew, name=f"lease-{self.name}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                if not self.store.take_lease(self.name, self.holder, self.clock.now(), self.ttl):
                    self.lost = True
                    log.error("lease %s expired while %s held it (stalled for over %s); another process has it now",
                              self.name, self.holder, self.ttl)
                    return
            except Exception as exc:  # the database away for a moment: try again at the next renewal
                log.warning("lease %s: renewal failed: %s: %s", self.name, type(exc).__name__, exc)

    def __exit__(self, *exc) -> bool:
        if not self.held:
            return False
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.held = False
        try:
            self.store.release_lease(self.name, self.holder)
        except Exception as err:  # it expires by itself
            log.warning("lease %s: release failed (%s: %s); it frees itself after %s", self.name,
                        type(err).__name__, err, self.ttl)
        return False
