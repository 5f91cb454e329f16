"""a lien's cancellation: when, by whom and why a supervisor took it back

Revision ID: 6c8e0a2b4d7f
Revises: 2b63ca49e4be
Create Date: 2026-12-06 18:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "6c8e0a2b4d7f"
down_revision = "2b63ca49e4be"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("lien", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("lien", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_on")
