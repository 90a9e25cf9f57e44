"""Warnings of a kept-but-imperfect fetch (commit aaf495e): source_state.last_warnings.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import add_columns

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ADDS = {"source_state": ["last_warnings"]}


def upgrade() -> None:
    add_columns("source_state", sa.Column("last_warnings", sa.Text))
