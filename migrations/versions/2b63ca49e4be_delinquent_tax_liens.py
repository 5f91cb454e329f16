"""delinquent property tax: the lien sale rules, the certified sale lists, the liens and the
tax invoices each lien is for

Revision ID: 2b63ca49e4be
Revises: c39762873e07
Create Date: 2026-12-06 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "2b63ca49e4be"
down_revision = "c39762873e07"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUSES = ("under_lien", "redeemed", "cancelled")


def upgrade():
    op.create_table(
        "lien_rule",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("days_after_delinquency", sa.Integer(), nullable=True),
        sa.Column("sale_on", sa.Date(), nullable=True),
        sa.Column("min_amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("excluded_classes", sa.JSON(), nullable=False),
        sa.Column("excluded_flags", sa.JSON(), nullable=False),
        sa.Column("closes_online", sa.Boolean(), nullable=False),
        sa.Column("cost_per_parcel_cents", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("min_amount_cents >= 0", name=op.f("ck_lien_rule_amount_not_negative")),
        sa.CheckConstraint(
            "cost_per_parcel_cents >= 0", name=op.f("ck_lien_rule_cost_not_negative")
        ),
        sa.CheckConstraint(
            "(days_after_delinquency IS NULL) <> (sale_on IS NULL)",
            name=op.f("ck_lien_rule_one_timing"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lien_rule")),
    )
    op.create_table(
        "lien_sale",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("list_id", sa.String(length=20), nullable=False),
        sa.Column("sale_date", sa.Date(), nullable=False),
        sa.Column("rule_id", ID, nullable=False),
        sa.Column("certified_on", sa.Date(), nullable=False),
        sa.Column("certified_by", sa.String(length=254), nullable=False),
        sa.Column("parcel_count", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["lien_rule.id"], name=op.f("fk_lien_sale_rule_id_lien_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lien_sale")),
        sa.UniqueConstraint("list_id", name=op.f("uq_lien_sale_list_id")),
        sa.UniqueConstraint("sale_date", name=op.f("uq_lien_sale_sale_date")),
    )
    op.create_table(
        "lien",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sale_id", ID, nullable=False),
        sa.Column("parcel_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("sale_date", sa.Date(), nullable=False),
        sa.Column("tax_years", sa.String(length=60), nullable=False),
        sa.Column("principal_cents", sa.BigInteger(), nullable=False),
        sa.Column("charges_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("cost_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Enum(*STATUSES, name="lien_status", native_enum=False, length=24,
                                    create_constraint=True), nullable=False),
        sa.Column("closes_online", sa.Boolean(), nullable=False),
        sa.Column("redeemed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_lien_amount_positive")),
        sa.CheckConstraint(
            "amount_cents = principal_cents + charges_cents", name=op.f("ck_lien_amount_adds_up")
        ),
        sa.CheckConstraint("cost_cents >= 0", name=op.f("ck_lien_cost_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_lien_account_id_account")
        ),
        sa.ForeignKeyConstraint(["parcel_id"], ["parcel.id"], name=op.f("fk_lien_parcel_id_parcel")),
        sa.ForeignKeyConstraint(["sale_id"], ["lien_sale.id"], name=op.f("fk_lien_sale_id_lien_sale")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lien")),
        sa.UniqueConstraint("sale_id", "parcel_id", name=op.f("uq_lien_sale_id_parcel_id")),
    )
    for column in ("sale_id", "parcel_id", "account_id", "status"):
        op.create_index(op.f(f"ix_lien_{column}"), "lien", [column])
    op.create_table(
        "lien_invoice",
        sa.Column("lien_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["lien_id"], ["lien.id"], name=op.f("fk_lien_invoice_lien_id_lien")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_lien_invoice_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("lien_id", "invoice_id", name=op.f("pk_lien_invoice")),
    )


def downgrade():
    op.drop_table("lien_invoice")
    for column in ("sale_id", "parcel_id", "account_id", "status"):
        op.drop_index(op.f(f"ix_lien_{column}"), table_name="lien")
    op.drop_table("lien")
    op.drop_table("lien_sale")
    op.drop_table("lien_rule")
