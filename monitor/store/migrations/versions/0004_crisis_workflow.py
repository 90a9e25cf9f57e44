"""The crisis workflow (commit bb96058, with 448264e's nullable ``alerts.labels``): alerts
carry labels, status, route, group, incident and facts; deliveries belong to notifications
(``alert_id`` optional, no longer a foreign key) and can be claimed and fall back; new
tables alert_groups, incidents, notifications and silences.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import add_columns, create_indexes, create_table, dt, make_nullable

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ADDS = {
    "alerts": ["labels", "severity", "status", "route_id", "group_id", "incident_id", "silence_id", "active_until",
               "notified_at", "detail"],
    "deliveries": ["notification_id", "claimed_at", "fallback_for", "fallback_at"],
    "alert_groups": ["*"], "incidents": ["*"], "notifications": ["*"], "silences": ["*"],
}


def upgrade() -> None:
    add_columns("alerts", sa.Column("labels", sa.Text), sa.Column("severity", sa.String),
                sa.Column("status", sa.String), sa.Column("route_id", sa.String), sa.Column("group_id", sa.Integer),
                sa.Column("incident_id", sa.Integer), sa.Column("silence_id", sa.Integer), dt("active_until"),
                dt("notified_at"), sa.Column("detail", sa.Text))
    create_indexes("alerts", (("ix_alerts_status", ["status"], False),
                              ("ix_alerts_incident_id", ["incident_id"], False)))
    make_nullable("deliveries", "alert_id", drop_foreign_key=True)
    add_columns("deliveries", sa.Column("notification_id", sa.Integer), dt("claimed_at"),
                sa.Column("fallback_for", sa.Integer), dt("fallback_at"))
    create_indexes("deliveries", (("ix_deliveries_notification_id", ["notification_id"], False),))
    _new_tables()


def _new_tables() -> None:
    create_table(
        "alert_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("route_id", sa.String, nullable=False),
        sa.Column("group_key", sa.String, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        dt("created_at", nullable=False), dt("first_pending_at"), dt("last_notified_at"),
        sa.Column("incident_id", sa.Integer),
        indexes=(("ux_groups_route_key", ["route_id", "group_key"], True),),
    )
    create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("route_id", sa.String, nullable=False),
        sa.Column("group_id", sa.Integer),
        sa.Column("entity_id", sa.String, nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("severity", sa.String, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        dt("opened_at", nullable=False), dt("first_detected_at", nullable=False), dt("deadline", nullable=False),
        dt("acked_at"), sa.Column("acked_by", sa.String), sa.Column("ack_via", sa.String),
        dt("resolved_at"), sa.Column("resolved_by", sa.String),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("tier_route", sa.String, nullable=False),
        sa.Column("paged_routes", sa.Text, nullable=False),
        dt("next_escalation_at"), dt("last_notified_at"),
        sa.Column("mention_ids", sa.Text, nullable=False),
        indexes=(("ix_incidents_entity_id", ["entity_id"], False), ("ix_incidents_status", ["status"], False)),
    )
    create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("route_id", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("alert_id", sa.Integer),
        sa.Column("incident_id", sa.Integer),
        dt("created_at", nullable=False),
        sa.Column("language", sa.String, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        dt("detected_at"),
        indexes=(("ix_notifications_incident_id", ["incident_id"], False),),
    )
    create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("matchers", sa.Text, nullable=False),
        dt("starts_at", nullable=False), dt("ends_at", nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        dt("created_at", nullable=False),
    )
