"""payments whose charge got no answer from Stripe (status unknown)

Revision ID: e1a3c5e7f9b2
Revises: d8f0a2c4e6b9
Create Date: 2026-12-06 05:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "e1a3c5e7f9b2"
down_revision = "d8f0a2c4e6b9"
branch_labels = None
depends_on = None

OLD = ("pending", "processing", "succeeded", "failed", "canceled", "voided")
NEW = ("pending", "processing", "unknown", "succeeded", "failed", "canceled", "voided")


def _allow(statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table("payment") as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_payment_status"), type_="check")
        batch_op.create_check_constraint("payment_status", sa.column("status").in_(statuses))


def upgrade():
    _allow(NEW)


def downgrade():
    # NOTE: a payment still unknown goes back to pending: the janitor of that version asks
    # Stripe about it as about any stale pending payment.
    op.execute(sa.text("UPDATE payment SET status = 'pending' WHERE status = 'unknown'"))
    _allow(OLD)
