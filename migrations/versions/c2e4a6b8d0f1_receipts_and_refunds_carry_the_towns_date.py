"""receipts, refunds and penalty charges carry the date of their ledger entry: the town's date of
the payment or refund, the day a charge was booked

Revision ID: c2e4a6b8d0f1
Revises: b8d0f2a4c6e7
Create Date: 2026-12-06 02:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c2e4a6b8d0f1"
down_revision = "b8d0f2a4c6e7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_on", sa.Date(), nullable=True))
    with op.batch_alter_table("invoice_charge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("booked_on", sa.Date(), nullable=True))
    # Rows made before this revision take the date of their ledger entry, which is what the
    # books already say of them.
    op.execute(
        "UPDATE receipt SET paid_on = (SELECT min(e.entry_date) FROM journal_entry e"
        " WHERE e.source_type = 'payment' AND e.source_id = CAST(receipt.payment_id AS VARCHAR(64)))"
    )
    op.execute(
        "UPDATE refund SET refunded_on = (SELECT min(e.entry_date) FROM journal_entry e"
        " WHERE e.source_type = 'refund' AND e.source_id = CAST(refund.id AS VARCHAR(64)))"
    )
    # A charge's entry is the first penalty entry of its invoice posted after the charge was
    # written (both in the assessment's transaction).
    op.execute(
        "UPDATE invoice_charge SET booked_on = (SELECT min(e.entry_date) FROM journal_entry e"
        " JOIN invoice i ON i.number = e.source_id WHERE e.source_type = 'penalty'"
        " AND i.id = invoice_charge.invoice_id AND e.posted_at >= invoice_charge.created_at)"
    )
    op.execute("UPDATE invoice_charge SET booked_on = assessed_on WHERE booked_on IS NULL")
    # NOTE: an entry can only be missing for rows written outside the services; they keep the
    # UTC date of the moment they were made.
    day = "date({})" if op.get_bind().dialect.name == "sqlite" else "CAST({} AS DATE)"
    op.execute(f"UPDATE receipt SET paid_on = {day.format('issued_at')} WHERE paid_on IS NULL")
    op.execute(f"UPDATE refund SET refunded_on = {day.format('created_at')} WHERE refunded_on IS NULL")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.alter_column("paid_on", existing_type=sa.Date(), nullable=False)
        batch_op.create_index(batch_op.f("ix_receipt_paid_on"), ["paid_on"], unique=False)
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.alter_column("refunded_on", existing_type=sa.Date(), nullable=False)
    with op.batch_alter_table("invoice_charge", schema=None) as batch_op:
        batch_op.alter_column("booked_on", existing_type=sa.Date(), nullable=False)


def downgrade():
    with op.batch_alter_table("invoice_charge", schema=None) as batch_op:
        batch_op.drop_column("booked_on")
    with op.batch_alter_table("refund", schema=None) as batch_op:
        batch_op.drop_column("refunded_on")
    with op.batch_alter_table("receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receipt_paid_on"))
        batch_op.drop_column("paid_on")
