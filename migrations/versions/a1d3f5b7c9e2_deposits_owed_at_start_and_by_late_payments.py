"""deposits owed: what the deposit rules ask of an account at a start of service or after its
late payments, until it is billed on a regular bill, taken at the counter or dropped

Revision ID: a1d3f5b7c9e2
Revises: a9c1e3f5b7d0
Create Date: 2026-12-06 11:30:00.000000

A new table only: existing data stays as it is.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a1d3f5b7c9e2"
down_revision = "a9c1e3f5b7d0"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("status = 'owed'")


def upgrade():
    op.create_table(
        "owed_deposit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reasons", sa.String(length=64), nullable=False),
        sa.Column("collect", sa.String(length=16), nullable=False),
        sa.Column("owed_since", sa.Date(), nullable=False),
        sa.Column("service_order_id", ID, nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "owed",
                "billed",
                "taken",
                "dropped",
                name="owed_deposit_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("deposit_id", ID, nullable=True),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_owed_deposit_amount_positive")),
        sa.CheckConstraint(
            "status <> 'owed' OR closed_on IS NULL", name=op.f("ck_owed_deposit_owed_is_open")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_owed_deposit_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["service_order_id"],
            ["service_order.id"],
            name=op.f("fk_owed_deposit_service_order_id_service_order"),
        ),
        sa.ForeignKeyConstraint(
            ["deposit_id"], ["deposit.id"], name=op.f("fk_owed_deposit_deposit_id_deposit")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_owed_deposit_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owed_deposit")),
    )
    with op.batch_alter_table("owed_deposit") as batch_op:
        batch_op.create_index(batch_op.f("ix_owed_deposit_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_owed_deposit_service_order_id"), ["service_order_id"])
        batch_op.create_index(batch_op.f("ix_owed_deposit_status"), ["status"])
        batch_op.create_index(
            "uq_owed_deposit_open",
            ["account_id"],
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )


def downgrade():
    with op.batch_alter_table("owed_deposit") as batch_op:
        batch_op.drop_index("uq_owed_deposit_open", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.drop_index(batch_op.f("ix_owed_deposit_status"))
        batch_op.drop_index(batch_op.f("ix_owed_deposit_service_order_id"))
        batch_op.drop_index(batch_op.f("ix_owed_deposit_account_id"))
    op.drop_table("owed_deposit")
