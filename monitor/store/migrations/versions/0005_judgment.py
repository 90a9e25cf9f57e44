"""Judgment (commit eb1f685): a mention keeps its thread (parent_url), whether it is backfill,
the verdict beside the model's own answer, causes, and a human's label; source_state counts
backfill.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import add_columns, dt

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ADDS = {
    "mentions": ["parent_url", "backfill", "verdict_by", "causes", "model_label", "model_negative", "human_label",
                 "human_causes", "labelled_by", "labelled_at"],
    "source_state": ["backfilled"],
}


def upgrade() -> None:
    add_columns("mentions", sa.Column("parent_url", sa.Text), sa.Column("backfill", sa.Boolean),
                sa.Column("verdict_by", sa.String(16)), sa.Column("causes", sa.String),
                sa.Column("model_label", sa.String(16)), sa.Column("model_negative", sa.Float),
                sa.Column("human_label", sa.String(16)), sa.Column("human_causes", sa.String),
                sa.Column("labelled_by", sa.String), dt("labelled_at"))
    add_columns("source_state", sa.Column("backfilled", sa.Integer))
