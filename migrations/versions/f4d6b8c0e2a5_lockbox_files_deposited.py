"""a lockbox or bill-pay file names the bank deposit that took its money

Revision ID: f4d6b8c0e2a5
Revises: a5e7c9d1f3b6
Create Date: 2026-12-06 14:15:00.000000

- remittance_file.bank_deposit_id: the bank deposit that moved the file's money from 1040
  Lockbox clearing to 1050 Deposits in transit; set once (payments.bank_deposits).
"""

import sqlalchemy as sa
from alembic import op

revision = "f4d6b8c0e2a5"
down_revision = "a5e7c9d1f3b6"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite adds a column with its foreign key in place; a batch copy of
        # remittance_file would fail on the items that refer to it.
        op.execute(
            "ALTER TABLE remittance_file ADD COLUMN bank_deposit_id INTEGER "
            "CONSTRAINT fk_remittance_file_bank_deposit_id_bank_deposit "
            "REFERENCES bank_deposit (id)"
        )
    else:
        op.add_column("remittance_file", sa.Column("bank_deposit_id", ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_remittance_file_bank_deposit_id_bank_deposit"),
            "remittance_file",
            "bank_deposit",
            ["bank_deposit_id"],
            ["id"],
        )
    op.create_index(
        op.f("ix_remittance_file_bank_deposit_id"), "remittance_file", ["bank_deposit_id"]
    )


def downgrade():
    op.drop_index(op.f("ix_remittance_file_bank_deposit_id"), table_name="remittance_file")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = OFF")
        with op.batch_alter_table("remittance_file") as batch:
            batch.drop_column("bank_deposit_id")
        op.execute("PRAGMA foreign_keys = ON")
    else:
        op.drop_constraint(
            op.f("fk_remittance_file_bank_deposit_id_bank_deposit"),
            "remittance_file",
            type_="foreignkey",
        )
        op.drop_column("remittance_file", "bank_deposit_id")
