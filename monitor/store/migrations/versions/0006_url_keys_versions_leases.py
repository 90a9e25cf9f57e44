"""Reliability (commit bb2da58): mentions.url_key (the canonical URL, a second key across
sources; filled in for rows stored before it, as the hand-written ``_add_url_keys`` did) and
edited_at; new tables mention_versions and leases.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from monitor.mention import canonical_url
from monitor.store.migrations.steps import add_columns, create_indexes, create_table, dt

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ADDS = {"mentions": ["url_key", "edited_at"], "mention_versions": ["*"], "leases": ["*"]}


def upgrade() -> None:
    add_columns("mentions", sa.Column("url_key", sa.Text), dt("edited_at"))
    create_indexes("mentions", (("ix_mentions_url_key", ["url_key"], False),))
    _fill_url_keys()
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


def _fill_url_keys() -> None:
    mentions = sa.table("mentions", sa.column("id", sa.Integer), sa.column("url", sa.Text),
                        sa.column("url_key", sa.Text))
    conn = op.get_bind()
    while True:
        rows = conn.execute(sa.select(mentions.c.id, mentions.c.url)
                            .where(mentions.c.url_key.is_(None), mentions.c.url.is_not(None)).limit(1000)).all()
        if not rows:
            return
        for ident, url in rows:  # a URL with no canonical form is its own key, so the loop ends
            conn.execute(mentions.update().where(mentions.c.id == ident).values(url_key=canonical_url(url) or url))
