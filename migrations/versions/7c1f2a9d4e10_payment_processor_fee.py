"""payment processor fee: what Stripe kept of a card payment, from its balance transaction

Revision ID: 7c1f2a9d4e10
Revises: 163046e0a880
Create Date: 2026-11-26 16:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "7c1f2a9d4e10"
down_revision = "163046e0a880"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payment") as batch_op:
        batch_op.add_column(sa.Column("fee_cents", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("payment") as batch_op:
        batch_op.drop_column("fee_cents")
