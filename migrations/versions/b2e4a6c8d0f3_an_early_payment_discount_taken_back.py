"""an early-payment discount taken back when the payment that earned it is refunded

Revision ID: b2e4a6c8d0f3
Revises: e5b7d9f1a3c6
Create Date: 2026-12-06 11:40:00.000000

- settlement.kind may be "discount_reversed": an honoured early-payment discount taken back
  because a refund, a voided counter payment or a lost dispute re-opened the bill (or the
  installment) it was earned on.
"""

import sqlalchemy as sa
from alembic import op

revision = "b2e4a6c8d0f3"
down_revision = "e5b7d9f1a3c6"
branch_labels = None
depends_on = None

OLD_KINDS = ("credit_applied", "credit_memo", "payment", "write_off", "reversal", "discount")
NEW_KINDS = (*OLD_KINDS, "discount_reversed")


def _allow(values: tuple[str, ...]) -> None:
    """Replace the CHECK constraint of settlement.kind."""
    with op.batch_alter_table("settlement") as batch_op:
        batch_op.drop_constraint(op.f("ck_settlement_settlement_kind"), type_="check")
        batch_op.create_check_constraint("settlement_kind", sa.column("kind").in_(values))


def upgrade():
    _allow(NEW_KINDS)


def downgrade():
    # NOTE: a downgrade cannot keep a discount taken back; its reversing journal entries stay
    # in the append-only ledger, so a downgrade with such rows is refused rather than made wrong.
    bind = op.get_bind()
    taken = bind.scalar(sa.text("SELECT count(*) FROM settlement WHERE kind = 'discount_reversed'"))
    if taken:
        raise RuntimeError(
            f"{taken} settlements take back early-payment discounts; this version cannot hold them"
        )
    _allow(OLD_KINDS)
