"""Evidence and retention (issue 18): payloads (raw fetched bodies by SHA-256), fetches (one
response: source, URL, time, status, headers, body hash), mention_evidence (which response
carried which version of a mention), mention_tombstones and legal_holds. Only new tables.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa

from monitor.store.migrations.steps import create_table, dt

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ADDS = {"payloads": ["*"], "fetches": ["*"], "mention_evidence": ["*"], "mention_tombstones": ["*"],
        "legal_holds": ["*"]}


def upgrade() -> None:
    create_table("payloads", sa.Column("sha256", sa.String(64), primary_key=True),
                 sa.Column("size", sa.Integer, nullable=False), sa.Column("data", sa.LargeBinary, nullable=False),
                 dt("stored_at", nullable=False))
    create_table("fetches", sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("source_id", sa.String, nullable=False), sa.Column("url", sa.Text, nullable=False),
                 dt("fetched_at", nullable=False), sa.Column("status", sa.Integer, nullable=False),
                 sa.Column("headers", sa.Text, nullable=False), sa.Column("sha256", sa.String(64), nullable=False),
                 indexes=(("ix_fetches_source_id", ["source_id"], False),
                          ("ix_fetches_fetched_at", ["fetched_at"], False),
                          ("ix_fetches_sha256", ["sha256"], False)))
    create_table("mention_evidence",
                 sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
                 sa.Column("version", sa.Integer, primary_key=True),
                 sa.Column("fetch_id", sa.Integer, nullable=False),
                 indexes=(("ix_mention_evidence_fetch_id", ["fetch_id"], False),))
    create_table("mention_tombstones", sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), nullable=False),
                 dt("removed_at", nullable=False), sa.Column("how", sa.String(16), nullable=False),
                 sa.Column("detail", sa.Text, nullable=False), sa.Column("fetch_id", sa.Integer),
                 dt("restored_at"),
                 indexes=(("ix_mention_tombstones_mention_id", ["mention_id"], False),))
    create_table("legal_holds", sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("kind", sa.String(16), nullable=False), sa.Column("target_id", sa.Integer, nullable=False),
                 sa.Column("reason", sa.Text, nullable=False), sa.Column("created_by", sa.String, nullable=False),
                 dt("created_at", nullable=False), dt("released_at"), sa.Column("released_by", sa.String),
                 indexes=(("ix_legal_holds_target", ["kind", "target_id"], False),))
