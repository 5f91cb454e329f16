"""tax payoff quotes and the payments made against them

Revision ID: 13d7a4ec630b
Revises: d9f1b3c5e7a0
Create Date: 2026-12-06 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "13d7a4ec630b"
down_revision = "d9f1b3c5e7a0"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    """A portable enum column's type, as core.db.enum_column makes it."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def upgrade():
    op.create_table(
        "payoff_quote",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("parcel_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column(
            "requester",
            _enum("payoff_requester", "owner", "title_company", "lender"),
            nullable=False,
        ),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_address", sa.String(length=500), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("good_through", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("projected_cents", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            _enum("payoff_quote_status", "open", "paid", "expired", "superseded"),
            nullable=False,
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=254), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_payoff_quote_amount_not_negative")),
        sa.CheckConstraint(
            "good_through >= issued_on", name=op.f("ck_payoff_quote_good_through_not_past")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_payoff_quote_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["parcel_id"], ["parcel.id"], name=op.f("fk_payoff_quote_parcel_id_parcel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payoff_quote")),
        sa.UniqueConstraint("number", name=op.f("uq_payoff_quote_number")),
    )
    op.create_index(op.f("ix_payoff_quote_parcel_id"), "payoff_quote", ["parcel_id"])
    op.create_index(op.f("ix_payoff_quote_account_id"), "payoff_quote", ["account_id"])
    op.create_table(
        "payoff_payment",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("quote_id", ID, nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("payer_name", sa.String(length=200), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column(
            "outcome", _enum("payoff_outcome", "settled", "refunded", "late"), nullable=False
        ),
        sa.Column("applied_cents", sa.BigInteger(), nullable=False),
        sa.Column("refund_cents", sa.BigInteger(), nullable=False),
        sa.Column("refund_id", ID, nullable=True),
        sa.Column("still_owed_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["payoff_quote.id"], name=op.f("fk_payoff_payment_quote_id_payoff_quote")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_payoff_payment_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_payoff_payment_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payoff_payment")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payoff_payment_payment_id")),
    )
    op.create_index(op.f("ix_payoff_payment_quote_id"), "payoff_payment", ["quote_id"])


def downgrade():
    op.drop_index(op.f("ix_payoff_payment_quote_id"), table_name="payoff_payment")
    op.drop_table("payoff_payment")
    op.drop_index(op.f("ix_payoff_quote_account_id"), table_name="payoff_quote")
    op.drop_index(op.f("ix_payoff_quote_parcel_id"), table_name="payoff_quote")
    op.drop_table("payoff_quote")
