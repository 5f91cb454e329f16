"""reconciliation items for webhook events that kept failing (kind event_failed)

Revision ID: d4f6a8c0e2b3
Revises: c9a1e3f5b7d2
Create Date: 2026-11-26 16:35:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d4f6a8c0e2b3"
down_revision = "c9a1e3f5b7d2"
branch_labels = None
depends_on = None

OLD = (
    "amount_mismatch",
    "failed_here",
    "unknown_to_stripe",
    "unknown_here",
    "refund_not_recorded",
    "payout_mismatch",
)
NEW = (*OLD, "event_failed")


def _allow(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("reconciliation_item") as batch_op:
        batch_op.drop_constraint(op.f("ck_reconciliation_item_reconciliation_kind"), type_="check")
        batch_op.create_check_constraint("reconciliation_kind", sa.column("kind").in_(kinds))


def upgrade():
    _allow(NEW)


def downgrade():
    op.execute(sa.text("DELETE FROM reconciliation_item WHERE kind = 'event_failed'"))
    _allow(OLD)
