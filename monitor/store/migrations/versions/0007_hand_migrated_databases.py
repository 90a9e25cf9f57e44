"""What the hand-written ADD COLUMN (commits 1ab73b0 to d460362) left different from a database
made fresh: it added columns but never their indexes (alerts.status, alerts.incident_id,
deliveries.notification_id), kept 0.1's NOT NULL foreign key deliveries.alert_id, added
alerts.labels as NOT NULL DEFAULT 0, and filled in url_key 1,000 rows per transaction (a
crash could leave some without). A database it migrated has every column, so it is
recognised at 0006 and this revision brings it level; on any other database it does nothing.

Revision ID: 0007
Revises: 0006
"""
from monitor.store.migrations.steps import create_indexes, fill_url_keys, make_nullable

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ADDS: dict[str, list[str]] = {}


def upgrade() -> None:
    create_indexes("alerts", (("ix_alerts_status", ["status"], False),
                              ("ix_alerts_incident_id", ["incident_id"], False)))
    create_indexes("deliveries", (("ix_deliveries_notification_id", ["notification_id"], False),))
    create_indexes("mentions", (("ix_mentions_url_key", ["url_key"], False),))
    fill_url_keys()
    make_nullable("deliveries", "alert_id", drop_foreign_key=True)
    make_nullable("alerts", "labels")
