"""Queries that read the window (issue 16): the rules' columns copied into mention_entities
(event_at, detected_at, negative_score, scored, backfill) with the composite indexes
(entity_id, event_at, negative_score) and (entity_id, detected_at), which replace the index
on entity_id alone; mention_tallies (per-source counts for /metrics); indexes on
mentions.detected_at, on the unscored mentions (partial), on alerts (rule, fired_at),
(rule, status) and (group, status), on notifications (route, kind) and on deliveries
(route, status). Existing rows are copied and counted here, the links 50,000 mentions per
statement.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from monitor.store.migrations.steps import add_columns, create_indexes, create_table, dt

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ADDS = {"mention_entities": ["event_at", "detected_at", "negative_score", "scored", "backfill"],
        "mention_tallies": ["*"]}
BATCH = 50_000


def upgrade() -> None:
    add_columns("mention_entities", dt("event_at"), dt("detected_at"), sa.Column("negative_score", sa.Float),
                sa.Column("scored", sa.Boolean), sa.Column("backfill", sa.Boolean))
    copy_link_columns()
    if "ix_mention_entities_entity_id" in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("mention_entities")}:
        op.drop_index("ix_mention_entities_entity_id", "mention_entities")
    create_indexes("mention_entities", (
        ("ix_mention_entities_entity_event", ["entity_id", "event_at", "negative_score"], False),
        ("ix_mention_entities_entity_detected", ["entity_id", "detected_at"], False)))
    create_indexes("mentions", (("ix_mentions_detected_at", ["detected_at"], False),))
    if "ix_mentions_unscored" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("mentions")}:
        where = sa.text("sentiment_label IS NULL")
        op.create_index("ix_mentions_unscored", "mentions", ["id"], sqlite_where=where, postgresql_where=where)
    create_indexes("alerts", (("ix_alerts_rule_fired", ["rule_id", "fired_at"], False),
                              ("ix_alerts_rule_status", ["rule_id", "status"], False),
                              ("ix_alerts_group_status", ["group_id", "status"], False)))
    create_indexes("notifications", (("ix_notifications_route_kind", ["route_id", "kind"], False),))
    create_indexes("deliveries", (("ix_deliveries_route_status", ["route_id", "status"], False),))
    create_table("mention_tallies", sa.Column("source_id", sa.String, primary_key=True),
                 sa.Column("stored", sa.Integer, nullable=False), sa.Column("negative", sa.Integer, nullable=False))
    count_tallies()


def copy_link_columns() -> None:
    """Copy each mention's rule columns onto its entity links, ``BATCH`` mention ids per UPDATE."""
    conn = op.get_bind()
    top = conn.execute(sa.text("SELECT MAX(id) FROM mentions")).scalar() or 0
    copy = sa.text(
        "UPDATE mention_entities SET "
        "event_at = (SELECT m.event_at FROM mentions m WHERE m.id = mention_entities.mention_id), "
        "detected_at = (SELECT m.detected_at FROM mentions m WHERE m.id = mention_entities.mention_id), "
        "negative_score = (SELECT m.negative_score FROM mentions m WHERE m.id = mention_entities.mention_id), "
        "scored = (SELECT m.sentiment_label IS NOT NULL FROM mentions m WHERE m.id = mention_entities.mention_id), "
        "backfill = (SELECT m.backfill FROM mentions m WHERE m.id = mention_entities.mention_id) "
        "WHERE mention_id > :lo AND mention_id <= :hi")
    for lo in range(0, top, BATCH):
        conn.execute(copy, {"lo": lo, "hi": lo + BATCH})


def count_tallies() -> None:
    """The per-source counts of the mentions already stored (a negative verdict: label negative)."""
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM mention_tallies"))
    conn.execute(sa.text(
        "INSERT INTO mention_tallies (source_id, stored, negative) "
        "SELECT source_id, COUNT(*), SUM(CASE WHEN sentiment_label = 'negative' THEN 1 ELSE 0 END) "
        "FROM mentions GROUP BY source_id"))
