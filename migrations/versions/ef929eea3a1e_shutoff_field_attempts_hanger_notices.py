"""utility shutoff in the field: a new work order attempt after a crew could not shut off
(numbered per delinquency), and the door hanger's notice where it was texted or e-mailed

Revision ID: ef929eea3a1e
Revises: 6c8e0a2b4d7f
Create Date: 2026-12-06 18:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "ef929eea3a1e"
down_revision = "6c8e0a2b4d7f"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("shutoff_order") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer(), server_default="1", nullable=False))
        batch.drop_constraint(op.f("uq_shutoff_order_delinquency"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_shutoff_order_delinquency_attempt"), ["account_id", "invoice_id", "attempt"]
        )
        batch.create_check_constraint(op.f("ck_shutoff_order_attempt_positive"), "attempt >= 1")
    with op.batch_alter_table("door_hanger") as batch:
        batch.add_column(sa.Column("notice_id", sa.Integer(), nullable=True))
        batch.create_index(op.f("ix_door_hanger_notice_id"), ["notice_id"], unique=False)


def downgrade():
    with op.batch_alter_table("door_hanger") as batch:
        batch.drop_index(op.f("ix_door_hanger_notice_id"))
        batch.drop_column("notice_id")
    # NOTE: the later attempts cannot be kept under the one-order key; downgrading drops them.
    op.execute(
        "DELETE FROM reconnection_order WHERE shutoff_order_id IN "
        "(SELECT id FROM shutoff_order WHERE attempt > 1)"
    )
    op.execute("DELETE FROM shutoff_order WHERE attempt > 1")
    with op.batch_alter_table("shutoff_order") as batch:
        batch.drop_constraint(op.f("ck_shutoff_order_attempt_positive"), type_="check")
        batch.drop_constraint(op.f("uq_shutoff_order_delinquency_attempt"), type_="unique")
        batch.create_unique_constraint(
            op.f("uq_shutoff_order_delinquency"), ["account_id", "invoice_id"]
        )
        batch.drop_column("attempt")
