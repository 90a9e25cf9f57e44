"""The tables (SQLModel), and the column type every datetime uses.

  mentions           one row per thing said; ``fingerprint`` is UNIQUE, so the
                     database, not memory, guarantees "stored once"; ``url_key`` (the
                     canonical URL) is a second key across sources; an edited item keeps
                     its row (and id) and takes the new text
  mention_versions   the earlier title/text/rating of an edited mention, one row per edit
  mention_entities   which entities a mention is about (many-to-many), with a copy of what
                     the rules filter on (event and detection time, P(negative), scored,
                     backfill), so a rule reads one entity's window from the composite
                     indexes (entity_id, event_at, negative_score) and (entity_id,
                     detected_at) alone;
                     :mod:`monitor.store.mentions` writes the copy in the transaction that
                     changes the mention
  mention_tallies    per source: mentions stored and with a negative verdict, kept by the
                     writes, so ``/metrics`` never counts the mentions table
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
A change to a table needs a revision in :mod:`monitor.store.migrations` (the migration
test compares the upgraded schema with these tables).
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, String, Text, TypeDecorator
from sqlalchemy import text as sql
from sqlmodel import Field, SQLModel

from monitor.clock import UTC, as_utc


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
    __table_args__ = (
        Index("ix_mentions_label_event", "sentiment_label", "event_at"),
        # the scoring queue: only the unscored rows are in it, so finding none costs nothing
        Index("ix_mentions_unscored", "id", sqlite_where=sql("sentiment_label IS NULL"),
              postgresql_where=sql("sentiment_label IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    source_id: str = Field(index=True)
    url: str | None = Field(default=None, sa_column=Column(Text))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    author: str | None = None
    rating: float | None = None
    published_at: datetime | None = _dt()
    detected_at: datetime = _dt(nullable=False, index=True)
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



class MentionEntityRow(SQLModel, table=True):
    """A mention is about an entity; the rest copies the mention's columns of the same name
    (``scored``: it has a verdict), for the rules' window queries."""

    __tablename__ = "mention_entities"
    __table_args__ = (
        Index("ix_mention_entities_entity_event", "entity_id", "event_at", "negative_score"),
        Index("ix_mention_entities_entity_detected", "entity_id", "detected_at"),
    )

    mention_id: int = Field(foreign_key="mentions.id", primary_key=True)
    entity_id: str = Field(primary_key=True)
    alias: str = ""
    event_at: datetime | None = _dt()
    detected_at: datetime | None = _dt()
    negative_score: float | None = None
    scored: bool | None = Field(default=False)
    backfill: bool | None = Field(default=False)


class MentionTallyRow(SQLModel, table=True):
    """Per source: mentions stored, and those whose verdict is negative (for ``/metrics``)."""

    __tablename__ = "mention_tallies"

    source_id: str = Field(primary_key=True)
    stored: int = 0
    negative: int = 0


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
    # the rules read a rule's recent alerts; /metrics counts by rule and status; dispatch reads a group's
    __table_args__ = (Index("ix_alerts_rule_fired", "rule_id", "fired_at"),
                      Index("ix_alerts_rule_status", "rule_id", "status"),
                      Index("ix_alerts_group_status", "group_id", "status"))  # a group's pending alerts

    id: int | None = Field(default=None, primary_key=True)
    rule_id: str = Field(index=True)
    entity_id: str = Field(index=True)
    fired_at: datetime = _dt(nullable=False)
    window_start: datetime = _dt(nullable=False)
    count: int = 0
    mention_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))  # one-line summary (no mention text)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    labels: str | None = Field(default="{}", sa_column=Column(Text))  # JSON; None in rows from repwatch 0.1
    severity: str | None = None
    # new -> grouped -> notified | silenced | inhibited | unrouted (None: made by repwatch 0.1, notified)
    status: str | None = Field(default=None, index=True)
    route_id: str | None = None
    group_id: int | None = None
    incident_id: int | None = Field(default=None, index=True)
    silence_id: int | None = None
    active_until: datetime | None = _dt()  # silences/inhibition consider it firing until then
    notified_at: datetime | None = _dt()
    detail: str | None = Field(default=None, sa_column=Column(Text))  # typed facts (monitor.alerting.facts), as JSON

    @property
    def mention_id_set(self) -> set[int]:
        return set(json.loads(self.mention_ids))

    @property
    def label_map(self) -> dict[str, str]:
        return json.loads(self.labels or "{}")


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
    __table_args__ = (Index("ix_notifications_route_kind", "route_id", "kind"),)  # /metrics counts by these

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
    __table_args__ = (Index("ix_deliveries_route_status", "route_id", "status"),)  # /metrics counts by these

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, index=True)  # repwatch 0.1 sent alerts, not notifications
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

metadata = SQLModel.metadata  # every table above: what a new database is created with, what migrations reach
