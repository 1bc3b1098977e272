"""Comparisons: one recipe run by several providers or models, each run a generation.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False, server_default=""),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("runs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_comparisons_owner", "comparisons", ["owner"])
    op.create_index("ix_comparisons_created_at", "comparisons", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_created_at", table_name="comparisons")
    op.drop_index("ix_comparisons_owner", table_name="comparisons")
    op.drop_table("comparisons")
