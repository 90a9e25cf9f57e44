"""Reliability (commit bb2da58): mentions.url_key (the canonical URL, a second key across
sources; filled in for rows stored before it, as the hand-written ``_add_url_keys`` did) and
edited_at; new tables mention_versions and leases.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import add_columns, create_indexes, create_table, dt, fill_url_keys

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ADDS = {"mentions": ["url_key", "edited_at"], "mention_versions": ["*"], "leases": ["*"]}


def upgrade() -> None:
    add_columns("mentions", sa.Column("url_key", sa.Text), dt("edited_at"))
    create_indexes("mentions", (("ix_mentions_url_key", ["url_key"], False),))
    fill_url_keys()
    create_table(
        "mention_versions",
        sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("rating", sa.Float),
        dt("seen_at", nullable=False),
    )
    create_table(
        "leases",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("holder", sa.String, nullable=False),
        dt("expires_at", nullable=False),
    )

