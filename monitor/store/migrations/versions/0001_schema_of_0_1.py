"""The schema of repwatch 0.1 (commit f339708): mentions, mention_entities, source_state,
alerts and deliveries, as the first landed ``monitor/storage.py`` created them.

Revision ID: 0001
Revises: (none)
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import create_table, dt

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ADDS = {"mentions": ["*"], "mention_entities": ["*"], "source_state": ["*"], "alerts": ["*"], "deliveries": ["*"]}


def upgrade() -> None:
    _mentions()
    _source_state()
    _alerts()


def _mentions() -> None:
    create_table(
        "mentions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("source_id", sa.String, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.String),
        sa.Column("rating", sa.Float),
        dt("published_at"), dt("detected_at", nullable=False), dt("event_at", nullable=False),
        sa.Column("sentiment_label", sa.String(16)),
        sa.Column("sentiment_score", sa.Float),
        sa.Column("negative_score", sa.Float),
        sa.Column("scored_by", sa.String),
        dt("scored_at"),
        indexes=(("ix_mentions_event_at", ["event_at"], False), ("ix_mentions_source_id", ["source_id"], False),
                 ("ix_mentions_label_event", ["sentiment_label", "event_at"], False)),
    )
    create_table(
        "mention_entities",
        sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
        sa.Column("entity_id", sa.String, primary_key=True),
        sa.Column("alias", sa.String, nullable=False),
        indexes=(("ix_mention_entities_entity_id", ["entity_id"], False),),
    )


def _source_state() -> None:
    create_table(
        "source_state",
        sa.Column("source_id", sa.String, primary_key=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("etag", sa.String),
        sa.Column("last_modified", sa.String),
        sa.Column("cursor", sa.String),
        dt("last_poll_at"), dt("last_success_at"),
        sa.Column("last_error", sa.Text),
        dt("last_error_at"),
        sa.Column("consecutive_failures", sa.Integer, nullable=False),
        dt("not_before"),
        sa.Column("last_new_mentions", sa.Integer, nullable=False),
        sa.Column("total_mentions", sa.Integer, nullable=False),
    )


def _alerts() -> None:
    create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rule_id", sa.String, nullable=False),
        sa.Column("entity_id", sa.String, nullable=False),
        dt("fired_at", nullable=False), dt("window_start", nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("mention_ids", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        indexes=(("ix_alerts_entity_id", ["entity_id"], False), ("ix_alerts_rule_id", ["rule_id"], False)),
    )
    create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("route_id", sa.String, nullable=False),
        sa.Column("target_index", sa.Integer, nullable=False),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        dt("created_at", nullable=False), dt("sent_at"), dt("next_attempt_at"),
        indexes=(("ix_deliveries_alert_id", ["alert_id"], False), ("ix_deliveries_status", ["status"], False)),
    )
