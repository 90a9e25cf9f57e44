"""Source health (commit 1ab73b0, which also brought the hand-written ADD COLUMN):
source_state learns the config digest, first and last poll with news, and the ops notice.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import add_columns, dt

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ADDS = {"source_state": ["config_digest", "first_new_at", "last_new_at", "notice_state", "notice_at"]}


def upgrade() -> None:
    add_columns("source_state", sa.Column("config_digest", sa.String), dt("first_new_at"), dt("last_new_at"),
                sa.Column("notice_state", sa.String), dt("notice_at"))
