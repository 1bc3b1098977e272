"""Repositories and generations get an owner, for databases shared by several users' servers.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("repos", "generations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(256), nullable=False, server_default=""))
            batch.create_index(f"ix_{table}_owner", ["owner"])


def downgrade() -> None:
    for table in ("repos", "generations"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_owner")
            batch.drop_column("owner")
