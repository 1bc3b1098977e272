"""Initial schema: repos, model cache, generations, events, secrets.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repos",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(1024), nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("ref", sa.String(256), nullable=True),
        sa.Column("commit", sa.String(64), nullable=True),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("checkout", sa.Text, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "model_cache",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("fetched_at", sa.Float, nullable=False),
    )
    op.create_table(
        "generations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("repo_id", sa.String(32), sa.ForeignKey("repos.id"), nullable=True),
        sa.Column("kernel_id", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("usage", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False, index=True),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_table(
        "events",
        sa.Column(
            "generation_id",
            sa.String(32),
            sa.ForeignKey("generations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    op.create_index("ix_events_generation_type", "events", ["generation_id", "type"])
    op.create_table(
        "secrets",
        sa.Column("owner", sa.String(256), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("hint", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("secrets", "events", "generations", "model_cache", "repos"):
        op.drop_table(table)
