"""Generations remember the thread they belong to and how they ended: `parent_id` (a follow-up's
parent), `cause` and `next_steps` (why a run failed or kept nothing, what to do), `cells_count`.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("cause", sa.Text(), nullable=True))
        batch.add_column(sa.Column("next_steps", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("cells_count", sa.Integer(), nullable=True))
        batch.create_index("ix_generations_parent_id", ["parent_id"])


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.drop_index("ix_generations_parent_id")
        batch.drop_column("cells_count")
        batch.drop_column("next_steps")
        batch.drop_column("cause")
        batch.drop_column("parent_id")
