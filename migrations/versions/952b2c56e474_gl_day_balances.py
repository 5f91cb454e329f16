"""period balances: each GL account's debits and credits per entry date, kept by posting and
backfilled here from the journal; the dashboard's figures as of a day, kept by a job

Revision ID: 952b2c56e474
Revises: ef929eea3a1e
Create Date: 2026-12-06 20:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "952b2c56e474"
down_revision = "ef929eea3a1e"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "gl_day_balance",
        sa.Column(
            "gl_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("debit_cents", sa.BigInteger(), nullable=False),
        sa.Column("credit_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "debit_cents >= 0 AND credit_cents >= 0",
            name=op.f("ck_gl_day_balance_sums_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["gl_account_id"],
            ["gl_account.id"],
            name=op.f("fk_gl_day_balance_gl_account_id_gl_account"),
        ),
        sa.PrimaryKeyConstraint("gl_account_id", "entry_date", name=op.f("pk_gl_day_balance")),
    )
    op.create_index("ix_gl_day_balance_entry_date", "gl_day_balance", ["entry_date"])
    # NOTE: the journal posted so far, summed once; posting keeps the rows from here on.
    op.execute(
        "INSERT INTO gl_day_balance (gl_account_id, entry_date, debit_cents, credit_cents) "
        "SELECT l.gl_account_id, e.entry_date, SUM(l.debit_cents), SUM(l.credit_cents) "
        "FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id "
        "GROUP BY l.gl_account_id, e.entry_date"
    )
    op.create_table(
        "dashboard_snapshot",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ledger_length", sa.BigInteger(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", name=op.f("pk_dashboard_snapshot")),
    )


def downgrade():
    op.drop_table("dashboard_snapshot")
    op.drop_index("ix_gl_day_balance_entry_date", table_name="gl_day_balance")
    op.drop_table("gl_day_balance")
