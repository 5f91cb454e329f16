"""payments keep the card's brand and last four digits; receipts keep the moment of the payment

Revision ID: d1f3b5a7c9e2
Revises: d3f5b7c9e1a2
Create Date: 2026-12-10 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d1f3b5a7c9e2"
down_revision = "d3f5b7c9e1a2"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_brand", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("card_last4", sa.String(length=4), nullable=True))
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    # Receipts made before this revision take the moment they were issued, which is when the
    # payment was settled (a card's brand and digits are filled in by the next fees job).
    op.execute("UPDATE receipt SET paid_at = issued_at")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.alter_column("paid_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_column("paid_at")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_column("card_last4")
        batch_op.drop_column("card_brand")
